#!/usr/bin/env bash
# Make sure the programs Loa's run and tests need are installed: redis-server and the DejaVu
# fonts (letters in PDF), PostgreSQL's binaries, Node.js (the Prism mock) and Chromium (the
# browser tests; LOA_CHROMIUM names another binary), the last three for the tests only. As root
# on Debian they are installed with apt-get; otherwise the script says exactly what to install.
set -euo pipefail
want_pg=0; want_node=0; want_chromium=0
for arg in "$@"; do
  case "$arg" in --postgres) want_pg=1 ;; --node) want_node=1 ;; --chromium) want_chromium=1 ;; esac
done
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The serif font of the operators' request letters in PDF (campaigns.letters).
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || missing+=(fonts-dejavu-core)
if [ $want_pg = 1 ] && ! { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  missing+=(postgresql)
fi
if [ $want_node = 1 ] && ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ $want_chromium = 1 ] && [ -z "${LOA_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Loa needs: ${missing[*]}. Install them, e.g.: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
