#!/bin/sh
echo "nodes: [unclosed"
