# kubectl-userns inspect probe: read-only, POSIX sh + coreutils (readlink, tr, head).
# Usage: sh -s -- KUBELET_ROOT POD_UID [POD_UID...]
# Records (TAB-separated, see docs/probe-format.md):
#   host      SELF_USERNS PID1_USERNS            (the probe shell's and PID 1's user namespace)
#   mount     FSTYPE MOUNTPOINT OPTIONS          (cgroup2 and cgroup v1 name=systemd mounts)
#   subid     uid|gid LINE                       (kubelet's lines of /etc/subuid, /etc/subgid)
#   getsubids uid|gid OUTPUT                     (getsubids [-g] kubelet, ',' joined; absent: -)
#   tried     POD_UID PATH                       (cgroup directories looked at for the pod)
#   poddir    POD_UID PATH                       (the pod's cgroup directory)
#   proc      POD_UID PID CGROUP_DIR UID GID UID_MAP GID_MAP USERNS COMM (CMDLINE, now empty)
#   cmdline   POD_UID PID CMDLINE                (after the pod's proc records; may repeat)
#   gone      POD_UID PID CGROUP_DIR             (exited while being read: normal)
#   record    POD_UID JSON | norecord POD_UID REASON  (KUBELET_ROOT/pods/POD_UID/userns)
#   other     POD_DIR PID UID_MAP USERNS         (first process of every other pod on the node)
#   otherrecord POD_UID JSON                     (every other pod's kubelet userns record)
set -u
kroot=$1
shift
printf 'probe\tkubectl-userns\t1\tinspect\n'

clean() { # one field: no TAB, no newline
  printf '%s' "$1" | tr '\t\n' '  '
}

printf 'host\t%s\t%s\n' "$(readlink /proc/self/ns/user 2>/dev/null || echo -)" \
  "$(readlink /proc/1/ns/user 2>/dev/null || echo -)"

roots=
while read -r _id _parent _dev _root mnt _opts rest; do
  fstype=${rest#*- }
  fstype=${fstype%% *}
  super=${rest##* }
  case $fstype in
    cgroup2) printf 'mount\tcgroup2\t%s\t%s\n' "$mnt" "$super"; roots="$mnt $roots" ;;
    cgroup)
      case ",$super," in
        *,name=systemd,*) printf 'mount\tcgroup\t%s\t%s\n' "$mnt" "$super"; roots="$roots $mnt" ;;
      esac ;;
  esac
done < /proc/self/mountinfo

for kind in uid gid; do
  file=/etc/sub$kind
  if [ -r "$file" ]; then
    while IFS= read -r line; do
      case $line in kubelet:*) printf 'subid\t%s\t%s\n' "$kind" "$(clean "$line")" ;; esac
    done < "$file"
  fi
  if command -v getsubids >/dev/null 2>&1; then
    if [ "$kind" = uid ]; then out=$(getsubids kubelet 2>&1); else out=$(getsubids -g kubelet 2>&1); fi
    printf 'getsubids\t%s\t%s\n' "$kind" "$(printf '%s' "$out" | tr '\t\n' ' ,')"
  else
    printf 'getsubids\t%s\t-\n' "$kind"
  fi
done

map_of() { # $1: file -> "a b c,d e f" in $map
  map=
  while read -r a b c; do map="${map:+$map,}$a $b $c"; done < "$1"
}

read_proc() { # $1 uid $2 pid $3 cgroup dir; prints proc or gone
  p=$2
  u=- g=-
  while read -r k a b c d; do
    case $k in Uid:) u="$a $b $c $d" ;; Gid:) g="$a $b $c $d" ;; esac
  done < "/proc/$p/status" 2>/dev/null || { printf 'gone\t%s\t%s\t%s\n' "$1" "$p" "$3"; return; }
  map_of "/proc/$p/uid_map" 2>/dev/null || { printf 'gone\t%s\t%s\t%s\n' "$1" "$p" "$3"; return; }
  umap=$map
  map_of "/proc/$p/gid_map" 2>/dev/null || { printf 'gone\t%s\t%s\t%s\n' "$1" "$p" "$3"; return; }
  gmap=$map
  # most processes share the previous one's namespace: test -ef saves a readlink fork
  if [ -n "${last_ns_pid:-}" ] && [ "/proc/$p/ns/user" -ef "/proc/$last_ns_pid/ns/user" ] \
    2>/dev/null; then
    ns=$last_ns
  else
    ns=$(readlink "/proc/$p/ns/user" 2>/dev/null) || ns=-
    last_ns=$ns last_ns_pid=$p
  fi
  comm=-
  read -r comm < "/proc/$p/comm" 2>/dev/null || { printf 'gone\t%s\t%s\t%s\n' "$1" "$p" "$3"; return; }
  [ -d "/proc/$p" ] || { printf 'gone\t%s\t%s\t%s\n' "$1" "$p" "$3"; return; }
  printf 'proc\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$1" "$p" "$3" "$u" "$g" "$umap" \
    "$gmap" "$ns" "$(clean "$comm")"
  cmdfiles="$cmdfiles /proc/$p/cmdline"
}

print_cmdlines() { # $1 uid: the command lines of $cmdfiles, all in two forks
  [ -n "$cmdfiles" ] || return 0
  # shellcheck disable=SC2086 # /proc/N/cmdline paths have no blanks
  { head -v -c 4096 $cmdfiles 2>/dev/null; echo; } | tr '\0\t' '  ' |
    while IFS= read -r line; do
      case $line in
        '==> /proc/'*'/cmdline <==') cp=${line#==> /proc/}; cp=${cp%%/*} ;;
        '') ;;
        *) printf 'cmdline\t%s\t%s\t%s\n' "$1" "$cp" "${line% }" ;;
      esac
    done
  cmdfiles=
}

find_pod_dir() { # $1 uid -> $poddir or empty; prints tried records
  u=$1
  e=$(printf '%s' "$u" | tr '-' '_')
  poddir=
  for r in $roots; do
    for c in \
      "$r/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$e.slice" \
      "$r/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$e.slice" \
      "$r/kubepods.slice/kubepods-pod$e.slice" \
      "$r/kubepods/besteffort/pod$u" "$r/kubepods/burstable/pod$u" "$r/kubepods/pod$u"; do
      printf 'tried\t%s\t%s\n' "$u" "$c"
      if [ -d "$c" ]; then poddir=$c; return; fi
    done
  done
  # nested roots (kind, --cgroup-root): look the directory up by name
  for r in $roots; do
    for c in "$r"/*/*pod"$e".slice "$r"/*/*/*pod"$e".slice "$r"/*/*/*/*pod"$e".slice \
      "$r"/*/*/*/*/*pod"$e".slice "$r"/*/pod"$u" "$r"/*/*/pod"$u" "$r"/*/*/*/pod"$u" \
      "$r"/*/*/*/*/pod"$u"; do
      if [ -d "$c" ]; then printf 'tried\t%s\t%s\n' "$u" "$c"; poddir=$c; return; fi
    done
    printf 'tried\t%s\t%s\n' "$u" "$r/**/*pod$e.slice|pod$u"
  done
}

each_procs_file() { # $1 dir: the cgroup.procs files of it and up to 3 levels below
  for f in "$1"/cgroup.procs "$1"/*/cgroup.procs "$1"/*/*/cgroup.procs "$1"/*/*/*/cgroup.procs; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done
}

targets=" "
cmdfiles=
for uid in "$@"; do
  targets="$targets$uid "
  find_pod_dir "$uid"
  if [ -n "$poddir" ]; then
    printf 'poddir\t%s\t%s\n' "$uid" "$poddir"
    for f in $(each_procs_file "$poddir"); do
      dir=${f%/cgroup.procs}
      while read -r pid; do
        read_proc "$uid" "$pid" "$dir"
      done < "$f"
    done
    print_cmdlines "$uid"
    last_poddir=$poddir
  fi
  rec="$kroot/pods/$uid/userns"
  if [ -r "$rec" ]; then
    printf 'record\t%s\t%s\n' "$uid" "$(tr '\t\n' '  ' < "$rec")"
  elif [ -e "$rec" ]; then
    printf 'norecord\t%s\tunreadable\n' "$uid"
  else
    printf 'norecord\t%s\tmissing\n' "$uid"
  fi
done

# the other pods of this node: their kubelet records and one running process each
for rec in "$kroot"/pods/*/userns; do
  [ -r "$rec" ] || continue
  other=${rec%/userns}
  other=${other##*/}
  case $targets in *" $other "*) continue ;; esac
  printf 'otherrecord\t%s\t%s\n' "$other" "$(tr '\t\n' '  ' < "$rec")"
done
if [ -n "${last_poddir:-}" ]; then
  case $last_poddir in
    */kubepods.slice/*) kube=${last_poddir%%/kubepods.slice/*}/kubepods.slice ;;
    */kubepods/*) kube=${last_poddir%%/kubepods/*}/kubepods ;;
    *) kube= ;;
  esac
  if [ -n "$kube" ]; then
    for d in "$kube"/*-pod*.slice "$kube"/*/*-pod*.slice "$kube"/pod* "$kube"/*/pod*; do
      [ -d "$d" ] || continue
      skip=
      for uid in "$@"; do
        e=$(printf '%s' "$uid" | tr '-' '_')
        case $d in *pod"$uid"|*pod"$e".slice) skip=1 ;; esac
      done
      [ -n "$skip" ] && continue
      for f in $(each_procs_file "$d"); do
        pid=
        while read -r pid; do
          [ -r "/proc/$pid/uid_map" ] || continue
          map_of "/proc/$pid/uid_map" 2>/dev/null || continue
          ns=$(readlink "/proc/$pid/ns/user" 2>/dev/null) || continue
          case $map in "0 0 4294967295") continue ;; esac
          printf 'other\t%s\t%s\t%s\t%s\n' "$d" "$pid" "$map" "$ns"
          break 2
        done < "$f"
      done
    done
  fi
fi
printf 'end\n'
