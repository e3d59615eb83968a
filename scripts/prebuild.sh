#!/bin/sh
# npm pack's prepack: builds the native helper for this platform (linux-x64 on
# a release machine) against glibc and against musl, into prebuilds/, which the
# package ships so that installing it needs no compiler. node-gyp-build picks
# one at install, src/native/binding.ts at run time.
#
# Needs what a build from source needs (python3, make, g++) and musl-gcc
# (Debian: apt-get install musl-tools). Each build runs in a scratch copy of
# the sources: prebuildify rebuilds and empties build/, which in a clone holds
# the helper that tests and `npm start` load.
set -eu
command -v musl-gcc >/dev/null || {
  echo "prebuild: musl-gcc is missing (Debian: apt-get install musl-tools)" >&2
  exit 1
}
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -R binding.gyp native "$scratch"/
rm -rf prebuilds
# --napi: one binary serves every Node version (Node-API 8); --tag-libc names
# them poold.glibc.node and poold.musl.node, as node-gyp-build looks them up.
prebuildify --napi --strip --tag-libc --name poold --cwd "$scratch" --out "$root"
# musl-gcc compiles against musl's headers and links against its libc.so, which
# musl's loader takes for itself: the helper then resolves against the libc
# of the node that loads it, as on Alpine.
CC=musl-gcc LINK=musl-gcc PREBUILD_LIBC=musl prebuildify --napi --strip --tag-libc --name poold --cwd "$scratch" --out "$root"
