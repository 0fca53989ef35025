#!/bin/bash
# Run beside `bench.dedupe --speed`; prints each new maximum, then the maxima. Linux only.
# Sum of PSS (and RSS) over the scan subprocess and its forked children, max over time.
max=0; maxr=0
while true; do
  p=$(pgrep -f "bench.dedupe --phase pipeline" | head -1)
  if [ -z "$p" ]; then
    if [ "$seen" = 1 ]; then break; fi; sleep 0.2; continue
  fi
  seen=1
  pids="$p $(pgrep -P $p | tr '\n' ' ')"
  s=0; r=0
  for q in $pids; do
    v=$(awk '/^Pss:/{print $2}' /proc/$q/smaps_rollup 2>/dev/null); s=$((s+${v:-0}))
    w=$(awk '/^Rss:/{print $2}' /proc/$q/smaps_rollup 2>/dev/null); r=$((r+${w:-0}))
  done
  [ $s -gt $max ] && max=$s && echo "$(date +%T) pss_sum=$((s/1024))MiB rss_sum=$((r/1024))MiB pids=$pids"
  [ $r -gt $maxr ] && maxr=$r
  sleep 0.3
done
echo "MAX pss_sum=$((max/1024)) MiB, max rss_sum=$((maxr/1024)) MiB"
