#!/bin/sh
printf '{"nodes": {"a": {}},\n "groups": {"g": ["a", "zz"]}}\n'
