# kubectl-userns inspect probe: read-only, POSIX sh + coreutils (ls, head, tr).
# Usage: sh -s -- KUBELET_ROOT POD_UID [POD_UID...]
# Records (TAB-separated, see docs/probe-format.md):
#   host      SELF_USERNS PID1_USERNS            (the probe shell's and PID 1's user namespace)
#   mount     FSTYPE MOUNTPOINT OPTIONS          (cgroup2 and cgroup v1 name=systemd mounts)
#   subid     uid|gid LINE                       (kubelet's lines of /etc/subuid, /etc/subgid)
#   getsubids uid|gid OUTPUT                     (getsubids [-g] kubelet, ',' joined; absent: -)
#   tried     POD_UID PATH                       (cgroup directories looked at for the pod)
#   poddir    POD_UID PATH                       (the pod's cgroup directory)
#   proc      POD_UID PID CGROUP_DIR UID GID UID_MAP GID_MAP USERNS COMM (CMDLINE, now empty)
#   cmdline   POD_UID PID CMDLINE                (after the proc records; may repeat)
#   gone      POD_UID PID CGROUP_DIR             (exited while being read: normal)
#   record    POD_UID JSON | norecord POD_UID REASON  (KUBELET_ROOT/pods/POD_UID/userns)
#   other     POD_DIR PID UID_MAP USERNS         (first process of every other pod on the node)
#   otherrecord POD_UID JSON                     (every other pod's kubelet userns record)
#
# Cost: the number of processes this script starts does not grow with the pods or processes it
# reads. Files are read with the shell's `read`, text is cleaned with parameter expansion; the
# user-namespace links of all processes are read by one `ls`, all command lines by one
# `head | tr`; getsubids runs twice. Pass 1 finds the pods' cgroups and processes (no output),
# then `ls` reads the links, pass 2 reads each process and prints.
set -u
kroot=$1
shift
T='	' # one TAB
NL='
'
printf 'probe\tkubectl-userns\t1\tinspect\n'

subst() { # $1 text, $2 one character, $3 replacement -> $subst: every $2 replaced
  subst='' _rest=$1
  while :; do
    case $_rest in
      *"$2"*) subst=$subst${_rest%%"$2"*}$3 _rest=${_rest#*"$2"} ;;
      *) subst=$subst$_rest; return 0 ;;
    esac
  done
}

clean() { # $1 -> $cleaned: one field, TAB and newline turned into spaces
  cleaned=$1
  case $cleaned in *"$T"*) subst "$cleaned" "$T" ' '; cleaned=$subst ;; esac
  case $cleaned in *"$NL"*) subst "$cleaned" "$NL" ' '; cleaned=$subst ;; esac
}

slurp() { # $1 readable file -> $cleaned: its text with TAB and newline as spaces
  _text='' _line=''
  while IFS= read -r _line; do _text="$_text$_line$NL"; done < "$1"
  clean "$_text$_line"
}

map_of() { # $1: file -> "a b c,d e f" in $map
  map=
  while read -r a b c; do map="${map:+$map,}$a $b $c"; done < "$1"
}

# Per-PID values live in variables named after the PID (ns_123, pod_123), not in one long
# string: a shell's ${long#*pattern} is quadratic, which made 100 processes take seconds. A
# name is only ever built from a string of digits.
is_pid() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

ns_of() { # $1 pid -> $ns: its user namespace from the `ls` table, else readlink; "" if gone
  ns=
  is_pid "$1" || return 0
  eval "ns=\${ns_$1:-}"
  [ -n "$ns" ] || ns=$(readlink "/proc/$1/ns/user" 2>/dev/null) || ns=
}

# --- pass 1: mounts, the pods' cgroup directories and processes; collects $links for `ls`

mounts='' roots=''
while read -r _id _parent _dev _root mnt _opts rest; do
  fstype=${rest#*- }
  fstype=${fstype%% *}
  super=${rest##* }
  case $fstype in
    cgroup2) mounts="${mounts}mount${T}cgroup2$T$mnt$T$super$NL"; roots="$mnt $roots" ;;
    cgroup)
      case ",$super," in
        *,name=systemd,*) mounts="${mounts}mount${T}cgroup$T$mnt$T$super$NL"; roots="$roots $mnt" ;;
      esac ;;
  esac
done < /proc/self/mountinfo

find_pod_dir() { # $1 uid, $2 escaped uid -> $poddir or empty; $found: tried/poddir records
  u=$1 e=$2
  poddir='' found=''
  for r in $roots; do
    for c in \
      "$r/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$e.slice" \
      "$r/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$e.slice" \
      "$r/kubepods.slice/kubepods-pod$e.slice" \
      "$r/kubepods/besteffort/pod$u" "$r/kubepods/burstable/pod$u" "$r/kubepods/pod$u"; do
      found="${found}tried$T$u$T$c$NL"
      if [ -d "$c" ]; then poddir=$c; break 2; fi
    done
  done
  if [ -z "$poddir" ]; then
    # nested roots (kind, --cgroup-root): look the directory up by name
    for r in $roots; do
      for c in "$r"/*/*pod"$e".slice "$r"/*/*/*pod"$e".slice "$r"/*/*/*/*pod"$e".slice \
        "$r"/*/*/*/*/*pod"$e".slice "$r"/*/pod"$u" "$r"/*/*/pod"$u" "$r"/*/*/*/pod"$u" \
        "$r"/*/*/*/*/pod"$u"; do
        if [ -d "$c" ]; then found="${found}tried$T$u$T$c$NL"; poddir=$c; break 2; fi
      done
      found="${found}tried$T$u$T$r/**/*pod$e.slice|pod$u$NL"
    done
  fi
  [ -z "$poddir" ] || found="${found}poddir$T$u$T$poddir$NL"
}

links='' escaped='' n=0 last_poddir=''
for uid in "$@"; do
  n=$((n + 1))
  subst "$uid" - _
  escaped="$escaped $subst"
  find_pod_dir "$uid" "$subst"
  procs=
  if [ -n "$poddir" ]; then
    for f in "$poddir"/cgroup.procs "$poddir"/*/cgroup.procs "$poddir"/*/*/cgroup.procs \
      "$poddir"/*/*/*/cgroup.procs; do
      [ -f "$f" ] || continue
      dir=${f%/cgroup.procs}
      while read -r pid; do
        procs="$procs$pid$T$dir$NL"
        links="$links /proc/$pid/ns/user"
      done < "$f"
    done
    last_poddir=$poddir
  fi
  eval "found_$n=\$found poddir_$n=\$poddir procs_$n=\$procs"
done

# the other pods of this node: one running process each (pass 1 picks it, pass 2 prints it),
# under the kubepods cgroup where the pod was found: with --cgroup-root the systemd driver
# prefixes every slice name (/kubelet: kubelet.slice/kubelet-kubepods.slice/...; kubernetes
# pkg/kubelet/cm/cgroup_manager_linux.go ToSystemd), cgroupfs nests kubepods under the root
kube=
case $last_poddir in
  */kubepods.slice/* | */*-kubepods.slice/*) kube=${last_poddir%%kubepods.slice/*}kubepods.slice ;;
  */kubepods/*) kube=${last_poddir%%/kubepods/*}/kubepods ;;
esac

other_pods() { # $@ the target uids; $mode pick|print
  # each other pod: its first process with a user namespace of its own
  [ -n "$kube" ] || return 0
  for d in "$kube"/*-pod*.slice "$kube"/*/*-pod*.slice "$kube"/pod* "$kube"/*/pod*; do
    [ -d "$d" ] || continue
    skip=
    for uid in "$@"; do case $d in *pod"$uid") skip=1 ;; esac; done
    for e in $escaped; do case $d in *pod"$e".slice) skip=1 ;; esac; done
    [ -n "$skip" ] && continue
    for f in "$d"/cgroup.procs "$d"/*/cgroup.procs "$d"/*/*/cgroup.procs "$d"/*/*/*/cgroup.procs; do
      [ -f "$f" ] || continue
      pid=
      while read -r pid; do
        [ -r "/proc/$pid/uid_map" ] || continue
        map_of "/proc/$pid/uid_map" 2>/dev/null || continue
        case $map in "0 0 4294967295") continue ;; esac
        if [ "$mode" = pick ]; then
          links="$links /proc/$pid/ns/user"
        else
          ns_of "$pid"
          [ -n "$ns" ] || continue
          printf 'other\t%s\t%s\t%s\t%s\n' "$d" "$pid" "$map" "$ns"
        fi
        break 2
      done < "$f"
    done
  done
}
mode=pick
other_pods "$@"

# --- one `ls` for the user-namespace links of the probe shell, PID 1 and every process found

# shellcheck disable=SC2086 # /proc/N/ns/user paths have no blanks
lsout=$(ls -ln "/proc/$$/ns/user" /proc/1/ns/user $links 2>/dev/null)
set -f
oldifs=$IFS IFS=$NL
for line in $lsout; do
  case $line in *" -> "*) ;; *) continue ;; esac
  # shellcheck disable=SC2034 # read by the eval below
  target=${line##* -> }
  line=${line% -> *}
  line=${line##* /proc/}
  line=${line%%/*}
  is_pid "$line" && eval "ns_$line=\$target"
done
IFS=$oldifs
set +f

# --- pass 2: print

ns_of $$
self_ns=${ns:--}
ns_of 1
printf 'host\t%s\t%s\n' "$self_ns" "${ns:--}"
printf '%s' "$mounts"

for kind in uid gid; do
  file=/etc/sub$kind
  if [ -r "$file" ]; then
    while IFS= read -r line; do
      case $line in kubelet:*) clean "$line"; printf 'subid\t%s\t%s\n' "$kind" "$cleaned" ;; esac
    done < "$file"
  fi
  if command -v getsubids >/dev/null 2>&1; then
    if [ "$kind" = uid ]; then out=$(getsubids kubelet 2>&1)
    else out=$(getsubids -g kubelet 2>&1); fi
    subst "$out" "$T" ' '
    subst "$subst" "$NL" ,
    printf 'getsubids\t%s\t%s\n' "$kind" "$subst"
  else
    printf 'getsubids\t%s\t-\n' "$kind"
  fi
done

gone() { printf 'gone\t%s\t%s\t%s\n' "$1" "$2" "$3"; }

read_proc() { # $1 uid $2 pid $3 cgroup dir; prints proc or gone
  p=$2
  is_pid "$p" || return 0
  u=- g=-
  while read -r k a b c d; do
    case $k in Uid:) u="$a $b $c $d" ;; Gid:) g="$a $b $c $d" ;; esac
  done < "/proc/$p/status" 2>/dev/null || { gone "$1" "$p" "$3"; return; }
  map_of "/proc/$p/uid_map" 2>/dev/null || { gone "$1" "$p" "$3"; return; }
  umap=$map
  map_of "/proc/$p/gid_map" 2>/dev/null || { gone "$1" "$p" "$3"; return; }
  gmap=$map
  ns_of "$p"
  comm=-
  read -r comm < "/proc/$p/comm" 2>/dev/null || { gone "$1" "$p" "$3"; return; }
  [ -d "/proc/$p" ] || { gone "$1" "$p" "$3"; return; }
  clean "$comm"
  printf 'proc\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$1" "$p" "$3" "$u" "$g" "$umap" \
    "$gmap" "${ns:--}" "$cleaned"
  cmdfiles="$cmdfiles /proc/$p/cmdline"
  eval "pod_$p=\$1" # $p is a PID: digits from cgroup.procs, /proc/$p exists
}

cmdfiles='' n=0
targets=' '
for uid in "$@"; do
  n=$((n + 1))
  targets="$targets$uid "
  eval "found=\$found_$n poddir=\$poddir_$n procs=\$procs_$n"
  printf '%s' "$found"
  if [ -n "$poddir" ]; then
    set -f
    oldifs=$IFS IFS=$NL
    for entry in $procs; do
      IFS=$oldifs
      read_proc "$uid" "${entry%%"$T"*}" "${entry#*"$T"}"
    done
    IFS=$oldifs
    set +f
  fi
  rec="$kroot/pods/$uid/userns"
  if [ -r "$rec" ]; then
    slurp "$rec"
    printf 'record\t%s\t%s\n' "$uid" "$cleaned"
  elif [ -e "$rec" ]; then
    printf 'norecord\t%s\tunreadable\n' "$uid"
  else
    printf 'norecord\t%s\tmissing\n' "$uid"
  fi
done

# the command lines of every process printed above, in two processes
if [ -n "$cmdfiles" ]; then
  # shellcheck disable=SC2086 # /proc/N/cmdline paths have no blanks
  { head -v -c 4096 $cmdfiles 2>/dev/null; echo; } | tr '\0\t' '  ' |
    while IFS= read -r line; do
      case $line in
        '==> /proc/'*'/cmdline <==')
          cp=${line#==> /proc/}
          cp=${cp%%/*}
          cu=
          is_pid "$cp" && eval "cu=\${pod_$cp:-}" ;;
        '') ;;
        *) [ -z "$cu" ] || printf 'cmdline\t%s\t%s\t%s\n' "$cu" "$cp" "${line% }" ;;
      esac
    done
fi

# the other pods of this node: their kubelet records and one running process each
for rec in "$kroot"/pods/*/userns; do
  [ -r "$rec" ] || continue
  other=${rec%/userns}
  other=${other##*/}
  case $targets in *" $other "*) continue ;; esac
  slurp "$rec"
  printf 'otherrecord\t%s\t%s\n' "$other" "$cleaned"
done
mode=print
other_pods "$@"
printf 'end\n'
