#!/bin/sh
# Renders the golden HTML report with headless Chromium (apt-get install -y chromium) to a PNG for a
# visual check; not part of `swift test`. Usage: Tests/FerdReportTests/screenshot.sh [out.png]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/ferd-report.png}
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$out" \
  --window-size=1200,4600 "file://$here/Golden/report.html" 2>/dev/null
echo "wrote $out"
