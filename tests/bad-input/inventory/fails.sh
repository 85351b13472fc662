#!/bin/sh
echo "no such zone: eu-west" >&2
exit 4
