# build-lib.sh: sourced by the README's scripts (demo.sh, test.sh, bench.sh).
#
#   punch_build DIR [MESON OPTIONS...]
#       configures DIR (or reconfigures it when it exists) and compiles;
#       prints meson's last lines of setup and the compile output.

punch_build() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" | tail -n 3
  else
    meson setup "$dir" "$@" | tail -n 3
  fi
  meson compile -C "$dir"
}
