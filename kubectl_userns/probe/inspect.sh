# kubectl-userns inspect probe: read-only, POSIX sh + coreutils (ls, head, tr) and sed.
# Usage: sh -s -- KUBELET_ROOT|- POD_UID [POD_UID...]  (-: the running kubelet's --root-dir,
#                                                        else the default, as node.sh does)
# Records (TAB-separated, every field escaped to printable ASCII, see docs/probe-format.md):
#   kubeletproc PID ok EXE | PID no REASON       (every process whose comm is kubelet, judged)
#   kubeletroot DIR SOURCE STATE CMDLINE_ROOT    (the kubelet root read below; as in node.sh)
#   user      kubelet UID GID | nouser kubelet   (the kubelet user, as the kubelet looks it up)
#   host      SELF_USERNS PID1_USERNS            (the probe shell's and PID 1's user namespace)
#   mount     FSTYPE MOUNTPOINT OPTIONS          (cgroup2 and cgroup v1 name=systemd mounts)
#   subid     uid|gid LINE                       (kubelet's lines of /etc/subuid, /etc/subgid:
#                                                 owner kubelet or the kubelet user's UID)
#   getsubids uid|gid OUTPUT                     (getsubids [-g] kubelet, ',' joined; absent: -;
#                                                 only with a kubelet user, as the kubelet runs it)
#   tried     POD_UID PATH                       (cgroup directories looked at for the pod)
#   poddir    POD_UID PATH                       (the pod's cgroup directory)
#   proc      POD_UID PID CGROUP_DIR UID GID UID_MAP GID_MAP USERNS COMM (CMDLINE, now empty)
#   cmdline   POD_UID PID LINE                   (after the proc records; one per line of it)
#   gone      POD_UID PID CGROUP_DIR             (exited while being read: normal)
#   record    POD_UID LINE | norecord POD_UID REASON  (KUBELET_ROOT/pods/POD_UID/userns; one
#                                                 record per line of a regular file)
#   other     POD_DIR PID UID_MAP USERNS         (first process of every other pod on the node)
#   otherrecord POD_UID LINE                     (every other pod's kubelet userns record)
#
# Framing: no field holds a TAB or newline (the script turns them into spaces), and one sed
# at the end writes every other byte outside printable ASCII as \ooo: whatever a tenant puts
# in its comm, command line or cgroup names stays inside its own field.
# Files are read only when they are regular files, at most 4096 bytes of a command line and
# 65536 of a kubelet record; several files read by one head are told apart by its headers,
# trusted only when unambiguous (see multi_read).
#
# Cost: the number of processes this script starts does not grow with the pods or processes it
# reads. Files are read with the shell's `read`, text is cleaned with parameter expansion; the
# user-namespace links of all processes are read by one `ls`, all command lines by one
# `head | tr`; getsubids runs twice. Pass 1 finds the pods' cgroups and processes (no output),
# then `ls` reads the links, pass 2 reads each process and prints.
set -u
LC_ALL=C # bytes, not characters, for the shell's patterns, tr and sed
export LC_ALL
kroot_arg=$1
shift
T='	' # one TAB
NL='
'

# include: common.sh

escape=$(sed_escape)

{ # the whole output goes through the escaping sed (the closing brace is at the end)
printf 'probe\tkubectl-userns\t2\tinspect\n'

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

slurp() { # $1 small file (comm) -> $cleaned: all of it, TAB and newline as spaces; 1 if gone
  _text='' _line=''
  { while IFS= read -r _line; do _text="$_text$_line$NL"; done; } < "$1" || return 1
  _text=$_text$_line
  clean "${_text%"$NL"}"
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

note() { # $1 tag, $2 uid, $3 path -> appended to $found, the path cleaned (glob matches can
  # name a directory with any bytes: a pod's processes may create cgroups of their own)
  clean "$3"
  found="$found$1$T$2$T$cleaned$NL"
}

find_pod_dir() { # $1 uid, $2 escaped uid -> $poddir or empty; $found: tried/poddir records
  u=$1 e=$2
  poddir='' found=''
  for r in $roots; do
    for c in \
      "$r/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$e.slice" \
      "$r/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$e.slice" \
      "$r/kubepods.slice/kubepods-pod$e.slice" \
      "$r/kubepods/besteffort/pod$u" "$r/kubepods/burstable/pod$u" "$r/kubepods/pod$u"; do
      note tried "$u" "$c"
      if [ -d "$c" ]; then poddir=$c; break 2; fi
    done
  done
  if [ -z "$poddir" ]; then
    # nested roots (kind, --cgroup-root): look the directory up by name
    for r in $roots; do
      for c in "$r"/*/*pod"$e".slice "$r"/*/*/*pod"$e".slice "$r"/*/*/*/*pod"$e".slice \
        "$r"/*/*/*/*/*pod"$e".slice "$r"/*/pod"$u" "$r"/*/*/pod"$u" "$r"/*/*/*/pod"$u" \
        "$r"/*/*/*/*/pod"$u"; do
        if [ -d "$c" ]; then note tried "$u" "$c"; poddir=$c; break 2; fi
      done
      note tried "$u" "$r/**/*pod$e.slice|pod$u"
    done
  fi
  [ -z "$poddir" ] || note poddir "$u" "$poddir"
}

# Per pod N: np_N processes, pid_N_I and dir_N_I for I in 1..np_N (a cgroup directory name is
# never split or joined on: it can hold any byte but / and NUL).
links='' escaped='' n=0 last_poddir=''
for uid in "$@"; do
  n=$((n + 1))
  subst "$uid" - _
  escaped="$escaped $subst"
  find_pod_dir "$uid" "$subst"
  i=0
  if [ -n "$poddir" ]; then
    for f in "$poddir"/cgroup.procs "$poddir"/*/cgroup.procs "$poddir"/*/*/cgroup.procs \
      "$poddir"/*/*/*/cgroup.procs; do
      [ -f "$f" ] || continue
      dir=${f%/cgroup.procs}
      while read -r pid; do
        is_pid "$pid" || continue
        i=$((i + 1))
        eval "pid_${n}_$i=\$pid dir_${n}_$i=\$dir"
        links="$links /proc/$pid/ns/user"
      done < "$f"
    done
    last_poddir=$poddir
  fi
  eval "found_$n=\$found poddir_$n=\$poddir np_$n=\$i"
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
        is_pid "$pid" && [ -r "/proc/$pid/uid_map" ] || continue
        map_of "/proc/$pid/uid_map" 2>/dev/null || continue
        case $map in "0 0 4294967295") continue ;; esac
        if [ "$mode" = pick ]; then
          links="$links /proc/$pid/ns/user"
        else
          ns_of "$pid"
          [ -n "$ns" ] || continue
          clean "$d"
          printf 'other\t%s\t%s\t%s\t%s\n' "$cleaned" "$pid" "$map" "$ns"
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

# the kubelet, the root it keeps its records in, and its user (common.sh, shared with node.sh)
kroot='' kl_uid=''
find_kubelet
kubelet_root_of "$kroot_arg"
kubelet_user

ns_of $$
self_ns=${ns:--}
ns_of 1
printf 'host\t%s\t%s\n' "$self_ns" "${ns:--}"
printf '%s' "$mounts"

for kind in uid gid; do
  file=/etc/sub$kind
  if [ -f "$file" ] && [ -r "$file" ]; then
    while IFS= read -r line; do
      owner=${line%%:*}
      if [ "$owner" = kubelet ] || { [ -n "$kl_uid" ] && [ "$owner" = "$kl_uid" ]; }; then
        clean "$line"
        printf 'subid\t%s\t%s\n' "$kind" "$cleaned"
      fi
    done < "$file"
  fi
  if [ -z "$kl_uid" ]; then
    : # no kubelet user: the kubelet uses its default pool and never runs getsubids
  elif command -v getsubids >/dev/null 2>&1; then
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

# Several files read by one head: mf_1..mf_$mn (paths), mk_1..mk_$mn (the record's tag and key
# fields). head -v marks where each file starts with a line '==> PATH <==', but a file can
# hold such a line too: a header is taken only in the order the files were given, skipping
# only files that are gone. A header line of one of them anywhere else means a file imitates
# another's header: then each file is read by a head of its own, so no file's text can ever be
# taken for another's. A file gone once head is done may have been imitated: its text is
# dropped. $1: at most this many bytes of each file. Prints KEY<TAB>LINE per non-empty line.
multi_read() {
  [ "$mn" -gt 0 ] || return 0
  set -- "$1"
  _i=0
  while [ "$_i" -lt "$mn" ]; do
    _i=$((_i + 1))
    eval "set -- \"\$@\" \"\$mf_$_i\""
  done
  _cap=$1 _key='' _f=''
  shift
  # (a last line without a newline is read too: || [ -n "$_line" ])
  head -v -c "$_cap" -- "$@" 2>/dev/null | tr '\0\t' '  ' | {
    _cur=0 _next=1 _bad='' _line=''
    while IFS= read -r _line || [ -n "$_line" ]; do
      case $_line in
        '') continue ;;
        '==> '*' <==')
          _name=${_line#'==> '}
          _name=${_name%' <=='}
          _k=0 _j=$_next
          # the next file's header, or a later one's with the files in between gone
          while [ "$_j" -le "$mn" ]; do
            eval "_f=\$mf_$_j"
            if [ "$_name" = "$_f" ]; then _k=$_j; break; fi
            [ -e "$_f" ] && break
            _j=$((_j + 1))
          done
          if [ "$_k" -gt 0 ]; then
            _cur=$_k _next=$((_k + 1))
            eval "out_$_k="
            continue
          fi
          # an earlier file's header, or a later one's while the next file exists: imitated
          _j=1
          while [ "$_j" -le "$mn" ]; do
            eval "_f=\$mf_$_j"
            [ "$_name" = "$_f" ] && { _bad=1; break 2; }
            _j=$((_j + 1))
          done ;;
      esac
      [ "$_cur" -gt 0 ] && eval "out_$_cur=\$out_$_cur\$_line\$NL"
    done
    _i=0
    while [ "$_i" -lt "$mn" ]; do
      _i=$((_i + 1))
      eval "_f=\$mf_$_i _key=\$mk_$_i"
      if [ -n "$_bad" ]; then
        { head -c "$_cap" -- "$_f" 2>/dev/null; echo; } | tr '\0\t' '  ' |
          while IFS= read -r _line; do
            [ -z "$_line" ] || printf '%s\t%s\n' "$_key" "$_line"
          done
        continue
      fi
      [ "$_i" -le "$_cur" ] && [ -e "$_f" ] || continue
      eval "_text=\${out_$_i-}"
      set -f
      _oldifs=$IFS IFS=$NL
      for _line in $_text; do printf '%s\t%s\n' "$_key" "$_line"; done
      IFS=$_oldifs
      set +f
    done
  }
}

mn=0
add_file() { # $1 path, $2 record tag and key fields: one more file for multi_read
  mn=$((mn + 1))
  eval "mf_$mn=\$1 mk_$mn=\$2"
}

read_proc() { # $1 uid $2 pid $3 cgroup dir; prints proc or gone
  p=$2
  clean "$3"
  dir=$cleaned
  u=- g=-
  # up to the Gid: line, which the kernel writes right after Uid: (Linux fs/proc/array.c,
  # task_state); the shell's read makes a system call per byte, and status goes on for 1.3 KB
  while read -r k a b c d; do
    case $k in Uid:) u="$a $b $c $d" ;; Gid:) g="$a $b $c $d"; break ;; esac
  done < "/proc/$p/status" 2>/dev/null || { gone "$1" "$p" "$dir"; return; }
  map_of "/proc/$p/uid_map" 2>/dev/null || { gone "$1" "$p" "$dir"; return; }
  umap=$map
  map_of "/proc/$p/gid_map" 2>/dev/null || { gone "$1" "$p" "$dir"; return; }
  gmap=$map
  ns_of "$p"
  slurp "/proc/$p/comm" 2>/dev/null || { gone "$1" "$p" "$dir"; return; }
  [ -d "/proc/$p" ] || { gone "$1" "$p" "$dir"; return; }
  printf 'proc\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$1" "$p" "$dir" "$u" "$g" "$umap" \
    "$gmap" "${ns:--}" "$cleaned"
  add_file "/proc/$p/cmdline" "cmdline$T$1$T$p"
}

n=0
targets=' '
for uid in "$@"; do
  n=$((n + 1))
  targets="$targets$uid "
  np=0
  eval "found=\$found_$n np=\$np_$n"
  printf '%s' "$found"
  i=0
  while [ "$i" -lt "$np" ]; do
    i=$((i + 1))
    eval "read_proc \"\$uid\" \"\$pid_${n}_$i\" \"\$dir_${n}_$i\""
  done
done
# the command lines of every process printed above: one head (and tr) for all of them
multi_read 4096
mn=0

# the kubelet's records: the pods' own, then every other pod's; regular files only (a FIFO
# would block, /dev/zero never end), one head for all of them
for uid in "$@"; do
  rec="$kroot/pods/$uid/userns"
  if [ ! -e "$rec" ] && [ ! -L "$rec" ]; then
    printf 'norecord\t%s\tmissing\n' "$uid"
  elif [ ! -f "$rec" ]; then
    printf 'norecord\t%s\tnot a regular file\n' "$uid"
  elif [ ! -r "$rec" ]; then
    printf 'norecord\t%s\tunreadable\n' "$uid"
  else
    add_file "$rec" "record$T$uid"
  fi
done
for rec in "$kroot"/pods/*/userns; do
  [ -f "$rec" ] && [ -r "$rec" ] || continue
  other=${rec%/userns}
  other=${other##*/}
  case $targets in *" $other "*) continue ;; esac
  clean "$other"
  add_file "$rec" "otherrecord$T$cleaned"
done
multi_read 65536

# the other pods of this node: one running process each
mode=print
other_pods "$@"
printf 'end\n'
} | sed -e "$escape"
