# kubectl-userns probe functions shared by node.sh and inspect.sh: load_script puts this text
# where a script has the line "# include: common.sh". Functions only; POSIX sh, coreutils.
# The kl_ helpers give their result in a variable (kl_out, kl_val, kl_n), not on stdout: a
# $(...) around a function is a forked shell, and forks are most of what a probe costs on a
# node (bench/test_suite_speed.md, "Node side").

# The sed program that makes every record printable ASCII: each byte other than TAB, newline
# and space..~ is written as \ooo (octal), and \ as \\ (docs/probe-format.md). Built with
# printf's own octal escapes, so this text stays plain ASCII; lines without such bytes skip it.
sed_escape() {
  _f='/[^]\t -[^-~]/!b\ns/\\\\/\\\\\\\\/g\n'
  for _a in 0 1 2 3; do
    for _b in 0 1 2 3 4 5 6 7; do
      for _c in 0 1 2 3 4 5 6 7; do
        case $_a$_b$_c in # octal: NUL (no shell text holds it), TAB, newline, space..~ stay
          000 | 011 | 012 | 04? | 05? | 06? | 07? | 1[0-6]? | 17[0-6]) ;;
          *) _f="${_f}s/\\$_a$_b$_c/\\\\\\\\$_a$_b$_c/g\\n" ;;
        esac
      done
    done
  done
  # shellcheck disable=SC2059 # the format is the program: its escapes are the point
  printf "$_f"
}

KL_TAB='	' # one TAB
KL_NL='
'
kl_subst() { # $1 text, $2 one character, $3 its replacement (default a space) -> $kl_out
  kl_out='' _rest=$1 _with=${3- }
  while :; do
    case $_rest in
      *"$2"*) kl_out=$kl_out${_rest%%"$2"*}$_with _rest=${_rest#*"$2"} ;;
      *) kl_out=$kl_out$_rest; return 0 ;;
    esac
  done
}

kl_clean() { # $1 -> $kl_out: one field, TAB and newline as spaces
  kl_subst "$1" "$KL_TAB"
  kl_subst "$kl_out" "$KL_NL"
}

kl_words() { # $1 -> $kl_n: the number of whitespace-separated words in it
  _glob=$-
  set -f
  # shellcheck disable=SC2086 # splitting is the point
  set -- $1
  case $_glob in *f*) ;; *) set +f ;; esac
  kl_n=$#
}

kl_read() { # file $1 -> $kl_val: its text as $(cat) gives it (trailing newlines dropped); 1 if
  # it cannot be opened. The shell's read, for files that answer reads at any offset (not sysctls)
  kl_val='' _line=''
  { while IFS= read -r _line; do kl_val=$kl_val$_line$KL_NL; _line=''; done; } < "$1" || return 1
  kl_val=$kl_val$_line
  while :; do
    case $kl_val in *"$KL_NL") kl_val=${kl_val%"$KL_NL"} ;; *) return 0 ;; esac
  done
}

kl_ids() { # status file $1 -> $kl_uids, $kl_nspid: the values of its Uid: and NSpid: lines
  # ('' when absent; NSpid: needs Linux >= 4.1), one pass; 1 if it cannot be opened
  kl_uids='' kl_nspid=''
  { while IFS= read -r _line; do
    case $_line in
      Uid:*) [ -n "$kl_uids" ] || kl_uids=${_line#*:} ;;
      NSpid:*) kl_nspid=${_line#*:}; break ;; # after Uid: (Linux fs/proc/array.c task_state)
    esac
  done; } < "$1"
}

# --- the kubelet ---------------------------------------------------------------------------------
# Any process can call itself kubelet (comm and cmdline are its own to set), so a process named
# kubelet is believed only for what a tenant's process cannot fake:
# - the host user namespace: its uid_map reads as ours (a pod's user namespace maps a sub-range;
#   only root of the host namespace can write a full map) - world-readable, no ptrace needed;
# - the host PID namespace: as many NSpid entries as ours (a container's PID namespace adds one);
# - UID 0: real, effective, saved and filesystem UID;
# - outside the kubepods cgroups (every pod's processes are inside them; the kubelet is not:
#   kubernetes pkg/kubelet/cm names pod cgroups under kubepods);
# - its executable: a regular file named kubelet at that path in our view of the node (the same
#   device and inode through /proc/PID/exe and through the path), owned by root and writable by
#   root only - not a binary in a container's root filesystem.
# Only the first process that passes all of them is the kubelet; its --root-dir and --config (the
# kubelet's own flags, kubernetes cmd/kubelet/app/options; the root dir is a flag only, not a
# KubeletConfiguration field) are taken from its command line, pflag style: --flag=value or
# --flag value, the last one wins.
# find_kubelet [args]: prints kubeletproc records (and with "args" the accepted kubelet's
# kubeletarg records); sets kl_pid, kl_root, kl_config ('' when not found or not given).
find_kubelet() {
  _print_args=${1:-}
  kl_read /proc/self/uid_map 2>/dev/null || kl_val=
  _self_map=$kl_val
  kl_ids /proc/self/status 2>/dev/null || kl_nspid=
  _self_nspid=
  [ -z "$kl_nspid" ] || { kl_words "$kl_nspid"; _self_nspid=$kl_n; } # Linux >= 4.1
  kl_pid='' kl_root='' kl_config=''
  for _d in /proc/[0-9]*; do
    _comm=
    read -r _comm 2>/dev/null < "$_d/comm" || continue
    [ "$_comm" = kubelet ] || continue
    _pid=${_d#/proc/}
    _why=
    kl_read "$_d/uid_map" 2>/dev/null || kl_val=
    _map=$kl_val
    kl_ids "$_d/status" 2>/dev/null || { kl_uids='' kl_nspid=''; }
    _uids=$kl_uids _nspid=$kl_nspid
    kl_read "$_d/cgroup" 2>/dev/null || kl_val=
    _cg=$kl_val
    _exe=$(readlink "$_d/exe" 2>/dev/null) || _exe=
    kl_clean "$_exe"
    _exe_c=$kl_out
    kl_subst "$_uids" "$KL_TAB"
    _uid_text=$kl_out # the Uid: value with TABs as spaces ...
    while :; do # ... and every run of spaces as one (tr -s)
      case $_uid_text in *"  "*) _uid_text=${_uid_text%%"  "*}" "${_uid_text#*"  "} ;; *) break ;; esac
    done
    kl_words "$_nspid"
    if [ -z "$_map" ] || [ "$_map" != "$_self_map" ]; then
      _why="runs in a user namespace of its own (uid_map is not the host's)"
    elif [ -n "$_self_nspid" ] && [ "$kl_n" != "$_self_nspid" ]; then
      _why="runs in a PID namespace of its own"
    elif [ "$_uid_text" != " 0 0 0 0" ]; then
      kl_subst "$_uids" "$KL_TAB"
      _why="does not run as UID 0 (Uid:$kl_out)"
    else
      case $_cg in
        *kubepods*) _why="runs in a pod's cgroup (kubepods)" ;;
      esac
    fi
    if [ -z "$_why" ]; then
      if [ -z "$_exe" ]; then
        _why="its executable cannot be read (needs root with CAP_SYS_PTRACE)"
      elif [ "${_exe##*/}" != kubelet ]; then
        _why="its executable is $_exe_c, not a kubelet binary"
      else
        # both in one stat: device, inode, owner, mode and type of the file the process runs
        # and of the file at that path in our view of the node; any failure, and they differ
        _via='' _at=''
        if _both=$(stat -L -c '%d:%i:%u:%a:%F' "$_d/exe" "$_exe" 2>/dev/null); then
          case $_both in
            *"$KL_NL"*"$KL_NL"*) ;;
            *"$KL_NL"*) _via=${_both%"$KL_NL"*} _at=${_both#*"$KL_NL"} ;;
          esac
        fi
        _owner=${_via#*:*:}
        _owner=${_owner%%:*}
        _mode=${_via#*:*:*:}
        _mode=${_mode%%:*}
        if [ -z "$_via" ] || [ "$_via" != "$_at" ]; then
          _why="its executable $_exe_c is not that file on the node (a container's binary?)"
        elif [ "${_via##*:}" != "regular file" ]; then
          _why="its executable $_exe_c is not a regular file"
        elif [ "$_owner" != 0 ]; then
          _why="its executable $_exe_c is not owned by root"
        elif [ $((0$_mode & 022)) -ne 0 ]; then
          _why="its executable $_exe_c is writable by others than root (mode $_mode)"
        fi
      fi
    fi
    if [ -n "$_why" ] || [ -n "$kl_pid" ]; then
      [ -n "$_why" ] || _why="a second kubelet; the first one found is used"
      printf 'kubeletproc\t%s\tno\t%s\n' "$_pid" "$_why"
      continue
    fi
    _args=$(tr '\0' '\n' 2>/dev/null < "$_d/cmdline") || _args=
    printf 'kubeletproc\t%s\tok\t%s\n' "$_pid" "$_exe_c"
    kl_pid=$_pid
    _want=
    _old_ifs=$IFS
    IFS='
'
    set -f
    for _a in $_args; do
      if [ "$_print_args" = args ]; then
        kl_clean "$_a"
        printf 'kubeletarg\t%s\t%s\n' "$_pid" "$kl_out"
      fi
      case $_want in
        root) kl_root=$_a _want= ; continue ;;
        config) kl_config=$_a _want= ; continue ;;
      esac
      case $_a in
        --root-dir=*) kl_root=${_a#--root-dir=} ;;
        --root-dir) _want=root ;;
        --config=*) kl_config=${_a#--config=} ;;
        --config) _want=config ;;
      esac
    done
    set +f
    IFS=$_old_ifs
    if [ -n "$kl_config" ]; then # a relative path is the kubelet's, from its working directory
      case $kl_config in
        /*) ;;
        *) kl_config="$(readlink "$_d/cwd" 2>/dev/null || echo /)/$kl_config" ;;
      esac
    fi
  done
}

# kubelet_root_of KUBELET_ROOT|-|@DIR: after find_kubelet, the root to read - the one given,
# else the running kubelet's --root-dir, else the default; @DIR: DIR where the probe cannot see
# the node's own files (an inspect probe pod) - in kroot and kstate (dir|missing|notdir), and
# its kubeletroot record: DIR SOURCE STATE CMDLINE_ROOT (SOURCE flag|cmdline|default|unseen).
kubelet_root_of() {
  if [ "${1#@}" != "$1" ]; then
    kroot=${1#@} _source=unseen
  elif [ "$1" != - ]; then
    kroot=$1 _source=flag
  elif [ -n "$kl_root" ]; then
    kroot=$kl_root _source=cmdline
  else
    kroot=/var/lib/kubelet _source=default # cmd/kubelet/app/options: --root-dir's default
  fi
  if [ -d "$kroot" ]; then kstate=dir; elif [ -e "$kroot" ]; then kstate=notdir; else kstate=missing; fi
  kl_clean "$kroot"
  _dir=$kl_out
  kl_clean "${kl_root:--}"
  printf 'kubeletroot\t%s\t%s\t%s\t%s\n' "$_dir" "$_source" "$kstate" "$kl_out"
}

# kubelet_user: the kubelet user as the kubelet looks it up (Go's os/user Lookup: NSS through
# getent, else /etc/passwd; kubernetes pkg/kubelet/kubelet_pods.go getKubeletMappings): its
# user record, or nouser; sets kl_uid ('' without the user).
kubelet_user() {
  _pw=$(getent passwd kubelet 2>/dev/null </dev/null) || _pw=
  if [ -z "$_pw" ] && [ -r /etc/passwd ]; then
    while IFS= read -r _line; do
      case $_line in kubelet:*) _pw=$_line ;; esac
    done < /etc/passwd
  fi
  kl_uid=
  if [ -n "$_pw" ]; then
    IFS=: read -r _n _x kl_uid _gid _rest <<EOF
$_pw
EOF
    kl_clean "$kl_uid"
    _uid_c=$kl_out
    kl_clean "$_gid"
    printf 'user\tkubelet\t%s\t%s\n' "$_uid_c" "$kl_out"
  else
    printf 'nouser\tkubelet\n'
  fi
}
