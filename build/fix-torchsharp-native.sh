#!/usr/bin/env bash
# Makes TorchSharp's native bridge (libLibTorchSharp.so) load on a libstdc++ without GLIBCXX_3.4.32.
#
# Applied to build output folders only, never to the package cache:
#   1. break any hard link to the package cache,
#   2. clear the version of std::ios_base_library_init() and add libenclave_glibcxx_shim.so as NEEDED
#      (the library's RUNPATH already starts with $ORIGIN, so the shim is found beside it),
#   3. mark the GLIBCXX_3.4.32 version requirement WEAK (Elf64_Vernaux.vna_flags |= VER_FLG_WEAK),
#   4. build the shim (an empty definition of that function) beside the library.
# Does nothing when the system libstdc++ already provides GLIBCXX_3.4.32. Idempotent.
#
# usage: fix-torchsharp-native.sh DIR [--force]     (--force patches even when the system does not need it)
set -euo pipefail

dir=${1:?usage: fix-torchsharp-native.sh DIR [--force]}
force=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
symbol=_ZSt21ios_base_library_initv
needed_version=GLIBCXX_3.4.32
shim=libenclave_glibcxx_shim.so

system_has_version() {
  local lib
  lib=$(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }')
  [ -n "$lib" ] || lib=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
  [ -f "$lib" ] && grep -qaF "$needed_version" "$lib"
}

if [ "$force" != "--force" ] && system_has_version; then
  exit 0
fi

mapfile -t libs < <(find "$dir" -name libLibTorchSharp.so -type f 2>/dev/null)
[ ${#libs[@]} -gt 0 ] || exit 0

for tool in patchelf readelf gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fix-torchsharp-native: '$tool' is required to make TorchSharp load on this libstdc++ (apt-get install patchelf binutils gcc)" >&2
    exit 1
  fi
done

# Prints the file offset of vna_flags of the Vernaux entry naming $needed_version, or nothing.
vernaux_flags_offset() {
  local lib=$1 section_offset entry_offset
  section_offset=$(readelf -S -W "$lib" | awk '$2 == ".gnu.version_r" { print $5 } $3 == ".gnu.version_r" { print $6 }' | head -n 1)
  entry_offset=$(readelf -V -W "$lib" | awk -v v="$needed_version" '$2 == "Name:" && $3 == v { sub(":", "", $1); print $1; exit }')
  [ -n "$section_offset" ] && [ -n "$entry_offset" ] || return 0
  echo $(( 0x$section_offset + entry_offset + 4 ))
}

for lib in "${libs[@]}"; do
  folder=$(dirname "$lib")
  versions=$(readelf -V -W "$lib")
  grep -qF "$needed_version" <<<"$versions" || continue

  if [ ! -f "$folder/$shim" ] || [ "$here/glibcxx_shim.c" -nt "$folder/$shim" ]; then
    gcc -shared -fPIC -O2 -Wl,-soname,$shim -o "$folder/$shim.tmp" "$here/glibcxx_shim.c"
    mv -f "$folder/$shim.tmp" "$folder/$shim"
  fi

  dynamic=$(readelf -d "$lib")
  if grep -qF "[$shim]" <<<"$dynamic" && grep -F "$needed_version" <<<"$versions" | grep -q WEAK; then
    continue
  fi

  tmp=$(mktemp "$lib.XXXXXX")
  cp "$lib" "$tmp"
  patchelf --clear-symbol-version "$symbol" "$tmp"
  grep -qF "[$shim]" <<<"$dynamic" || patchelf --add-needed "$shim" "$tmp"
  offset=$(vernaux_flags_offset "$tmp")
  if [ -z "$offset" ]; then
    rm -f "$tmp"
    echo "fix-torchsharp-native: cannot locate the $needed_version requirement in $lib" >&2
    exit 1
  fi
  flags=$(od -An -tu2 -j "$offset" -N 2 "$tmp" | tr -d ' ')
  printf "$(printf '\\x%02x' $(( (flags | 2) & 0xff )))" | dd of="$tmp" bs=1 seek="$offset" conv=notrunc status=none
  versions=$(readelf -V -W "$tmp")
  grep -F "$needed_version" <<<"$versions" | grep -q WEAK || { rm -f "$tmp"; echo "fix-torchsharp-native: failed to mark $needed_version weak in $lib" >&2; exit 1; }
  chmod 755 "$tmp"
  mv -f "$tmp" "$lib"
  echo "fix-torchsharp-native: patched $lib"
done
