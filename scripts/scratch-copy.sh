# Sourced by scripts/sanitize.sh and scripts/valgrind.sh: copy_sources ROOT WORK puts a fresh
# copy of the sources in WORK, without any compiled module, so that the instrumented build made
# there in place is the only one Python can import and the development build in ROOT is left
# alone.  (pyproject.toml is copied by the caller after its build: setuptools would read it.)
copy_sources() {
    local root=$1 work=$2 item
    echo "== copying the sources to $work"
    mkdir -p "$work"
    (cd "$work" && rm -rf csrc wsfast tests scripts examples README.md LICENSE pyproject.toml build.log)
    for item in csrc wsfast tests scripts examples README.md LICENSE; do
        [[ -e $root/$item ]] && cp -r "$root/$item" "$work/"
    done
    find "$work/wsfast" -maxdepth 1 \( -name '_wsfast.*.so' -o -name '_wsfast.*.pyd' \
        -o -name '_wsfast.c' -o -name '*.o' \) -delete
}
