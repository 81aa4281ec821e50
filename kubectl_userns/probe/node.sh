# kubectl-userns node probe: what a node needs for user namespaces. POSIX sh, coreutils, sed.
# Read-only, unless the second argument is "probe": then it also proves idmapped mounts inside a
# private mount namespace that ends with the probe (unshare -m, propagation private); the mounts
# it makes are never attached outside that namespace, so nothing is left behind.
# Usage: sh -s -- KUBELET_ROOT|- [probe]   (-: the running kubelet's --root-dir, else the default)
# Records (TAB-separated, every field escaped to printable ASCII, see docs/probe-format.md):
#   whoami    UID                               (the probe shell's UID; root reads everything)
#   kubeletproc PID ok EXE | PID no REASON      (every process whose comm is kubelet, judged)
#   kubeletarg PID ARG                          (each argument of the first accepted kubelet)
#   kubeletroot DIR SOURCE STATE CMDLINE_ROOT   (SOURCE flag|cmdline|default; STATE dir|missing|
#                                                notdir; CMDLINE_ROOT: its --root-dir or -)
#   kernel    RELEASE                           (uname -r)
#   sysctl    user.max_user_namespaces VALUE    (- when unreadable)
#   cgroupfs  TYPE                              (filesystem of /sys/fs/cgroup: cgroup2fs on v2)
#   mount     FSTYPE MOUNTPOINT SUPER_OPTIONS   (every cgroup2 and cgroup v1 mount)
#   rootfs    KUBELET_ROOT MOUNTPOINT FSTYPE SOURCE STATFS_TYPE  (the mount under the kubelet root)
#   user      kubelet UID GID | nouser kubelet  (the kubelet user)
#   subidfile uid|gid ok|missing|unreadable     (/etc/subuid, /etc/subgid)
#   subid     uid|gid LINE                      (every non-comment line of those files)
#   getsubids PATH | nogetsubids -              (getsubids found on PATH or in the usual places)
#   subids    uid|gid EXIT OUTPUT               (getsubids [-g] kubelet, lines joined with ',')
#   runtime   crun|runc PATH FIRST_LINE         (each OCI runtime binary and its --version, run so
#                                                that it writes nothing; see below)
#   runtimeskip crun|runc PATH REASON           (a binary not run: not root's, or writable by others)
#   runtimeconf FILE KEY VALUE                  (CRI-O default_runtime/runtime_path, containerd
#                                                BinaryName)
#   kubeletconfig PATH BASE64                   (the accepted kubelet's --config file, nothing else)
#   kubeletconfigbad PATH REASON                (that file, not read: missing, not a regular file)
#   userns    POD_UID CONTENT                   (every KUBELET_ROOT/pods/*/userns record)
#   usernsbad POD_UID REASON                    (a record that cannot be read)
#   idmap     STEP ok|fail|skip DETAIL          (probe only; STEP: tool, userns, tmpfs, bind)
#
# Cost: files are read with the shell's `read` and fields cleaned with parameter expansion, so
# the processes it starts do not grow with the lines of /etc/subuid or the runtimes' configs
# (tests/test_verify_node.py counts them); only each kubelet record costs a head | tr.
set -u
LC_ALL=C # bytes, not characters, for the shell's patterns, tr and sed
export LC_ALL
kroot_arg=$1
mode=${2:-}

# include: common.sh

tab=$KL_TAB NL=$KL_NL
kl_out='' kl_uids='' # set by common.sh's functions

escape=$(sed_escape)

{ # the whole output goes through the escaping sed (the closing brace is at the end)
printf 'probe\tkubectl-userns\t2\tnode\n'

clean() { # $1 -> $cleaned: one field, no TAB, no newline (common.sh's kl_clean)
  kl_clean "$1"
  cleaned=$kl_out
}

# the effective UID, as id -u prints it: the second of the Uid: line's real, effective, saved
# and filesystem UIDs (digits only, the kernel's)
effective() { uid=${2:--}; }
uid=-
# shellcheck disable=SC2086 # splitting is the point
! kl_ids /proc/self/status 2>/dev/null || effective $kl_uids
printf 'whoami\t%s\n' "$uid"

# --- the kubelet ---------------------------------------------------------------------------------
# the process that is the kubelet, its arguments, and the kubelet root (common.sh)
kroot='' kstate='' kl_config=''
find_kubelet args
kubelet_root_of "$kroot_arg"
printf 'kernel\t%s\n' "$(uname -r)"
# cat, not read: a sysctl file answers only a read at offset 0, and dash reads byte by byte
v=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null) || v=-
printf 'sysctl\tuser.max_user_namespaces\t%s\n' "$v"
printf 'cgroupfs\t%s\n' "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo -)"

best='' bestfs=- bestsrc=-
while read -r _id _parent _dev _root mnt _opts rest; do
  fstype=${rest#*- }
  fstype=${fstype%% *}
  src=${rest#*- "$fstype" }
  src=${src%% *}
  super=${rest##* }
  case $fstype in
    cgroup2 | cgroup) printf 'mount\t%s\t%s\t%s\n' "$fstype" "$mnt" "$super" ;;
  esac
  case "$kroot/" in
    "${mnt%/}/"*)
      if [ -z "$best" ] || [ "${#mnt}" -ge "${#best}" ]; then best=$mnt bestfs=$fstype bestsrc=$src; fi ;;
  esac
done < /proc/self/mountinfo
[ "$kstate" = dir ] || best='' bestfs=- bestsrc=- # a missing root is on no filesystem
statfs=$(stat -f -c %T "$kroot" 2>/dev/null) || statfs=-
clean "$kroot"
c_root=$cleaned
clean "${best:--}"
c_best=$cleaned
clean "$bestsrc"
printf 'rootfs\t%s\t%s\t%s\t%s\t%s\n' "$c_root" "$c_best" "$bestfs" "$cleaned" "$statfs"

kubelet_user

for kind in uid gid; do
  file=/etc/sub$kind
  if [ ! -e "$file" ]; then
    printf 'subidfile\t%s\tmissing\n' "$kind"
  elif [ ! -f "$file" ]; then
    printf 'subidfile\t%s\tnot a regular file\n' "$kind"
  elif [ ! -r "$file" ]; then
    printf 'subidfile\t%s\tunreadable\n' "$kind"
  else
    printf 'subidfile\t%s\tok\n' "$kind"
    while IFS= read -r line || [ -n "$line" ]; do
      case $line in '' | '#'*) continue ;; esac
      clean "$line"
      printf 'subid\t%s\t%s\n' "$kind" "$cleaned"
    done < "$file"
  fi
done

# find_exe NAME [DIRS...] -> $exes: the executables named NAME on PATH and in DIRS (each argument
# a directory or, as PATH, directories joined by ':'), one path a line, a file found again
# through another path (a symlinked directory) given once; with first=1 only the first one
# found (no readlink then)
first=
find_exe() {
  _fe_name=$1 exes='' _fe_seen=' ' _fe_tried=$NL
  shift
  _fe_ifs=$IFS
  IFS=:
  set -f
  # shellcheck disable=SC2048 # each argument split at ':' (IFS), as $PATH is
  for _fe_d in $PATH $*; do
    IFS=$_fe_ifs
    [ -n "$_fe_d" ] || continue
    _fe_p=$_fe_d/$_fe_name
    case $_fe_d in */"$_fe_name") _fe_p=$_fe_d ;; esac # a full path from a runtime config
    [ -f "$_fe_p" ] && [ -x "$_fe_p" ] || continue
    if [ -n "$first" ]; then exes=$_fe_p; break; fi
    case $_fe_tried in *"$NL$_fe_p$NL"*) continue ;; esac # its real path is in seen already
    _fe_tried=$_fe_tried$_fe_p$NL
    _fe_real=$(readlink -f "$_fe_p" 2>/dev/null) || _fe_real=$_fe_p
    case $_fe_seen in *" $_fe_real "*) continue ;; esac
    _fe_seen="$_fe_seen$_fe_real "
    exes=$exes$_fe_p$NL
  done
  set +f
  IFS=$_fe_ifs
}

usual="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
first=1
find_exe getsubids "$usual"
first=
gs=$exes
if [ -n "$gs" ]; then
  printf 'getsubids\t%s\n' "$gs"
  for kind in uid gid; do
    if [ "$kind" = uid ]; then
      out=$("$gs" kubelet 2>&1 </dev/null)
    else
      out=$("$gs" -g kubelet 2>&1 </dev/null)
    fi
    rc=$?
    kl_subst "$out" "$tab"
    kl_subst "$kl_out" "$NL" ,
    printf 'subids\t%s\t%s\t%s\n' "$kind" "$rc" "$kl_out"
  done
else
  printf 'nogetsubids\t-\n'
fi

# OCI runtimes: what CRI-O and containerd are configured with, then the binaries themselves
confpaths=
for f in /etc/crio/crio.conf /etc/crio/crio.conf.d/* /etc/containerd/config.toml; do
  [ -f "$f" ] && [ -r "$f" ] || continue
  while IFS= read -r line || [ -n "$line" ]; do
    key=${line%%=*}
    # the key without spaces and TABs; a comment or blank line has none of the keys
    case ${key#"${key%%[!" $tab"]*}"} in '' | '#'*) continue ;; esac
    kl_subst "$key" ' ' ''
    kl_subst "$kl_out" "$tab" ''
    key=$kl_out
    case $key in
      default_runtime | runtime_path | BinaryName)
        value=${line#*=} # without spaces, TABs and quotes
        for c in ' ' "$tab" '"' "'"; do kl_subst "$value" "$c" ''; value=$kl_out; done
        clean "$value"
        printf 'runtimeconf\t%s\t%s\t%s\n' "$f" "$key" "$cleaned"
        case $key in runtime_path | BinaryName) confpaths="$confpaths:$value" ;; esac ;;
    esac
  done < "$f"
done
old_ifs=$IFS
IFS=:
set -f
set -- $confpaths
IFS=$old_ifs
# Their --version must write nothing: crun's print_version looks up its state directory with
# get_run_directory, which creates it (/run/crun, or $XDG_RUNTIME_DIR/crun) when missing
# (containers/crun src/crun.c, src/libcrun/status.c) - so crun gets --root=/ first, a directory that
# exists (options are handled in order). runc's --version is answered by urfave/cli before runc's
# Before hook, which is what sets up its root and log (urfave/cli App.Run). Only binaries owned by
# root and writable by root alone are run at all, with an empty environment.
for name in crun runc; do
  find_exe "$name" "$usual" /usr/libexec/crio /usr/lib/cri-o-runc/sbin /usr/libexec/podman "$@"
  set -f
  for p in $exes; do
    set +f
    owner=$(stat -L -c '%u %a' "$p" 2>/dev/null) || owner=
    perm=${owner#* }
    if [ "${owner%% *}" != 0 ]; then
      printf 'runtimeskip\t%s\t%s\tnot owned by root\n' "$name" "$p"
      continue
    elif [ $((0$perm & 022)) -ne 0 ]; then
      printf 'runtimeskip\t%s\t%s\twritable by others than root (mode %s)\n' "$name" "$p" "$perm"
      continue
    fi
    if [ "$name" = crun ]; then
      version=$(cd / && env -i PATH="$usual" timeout 5 "$p" --root=/ --version 2>&1 </dev/null | head -n 1)
    else
      version=$(cd / && env -i PATH="$usual" timeout 5 "$p" --version 2>&1 </dev/null | head -n 1)
    fi
    clean "$version"
    printf 'runtime\t%s\t%s\t%s\n' "$name" "$p" "$cleaned"
  done
done
set +f

# the kubelet's own configuration file, for when the API cannot serve /configz: only the file the
# kubelet above was started with (never a guess like KUBELET_ROOT/config.yaml), a regular file
if [ -n "$kl_config" ]; then
  clean "$kl_config"
  if [ ! -e "$kl_config" ]; then
    printf 'kubeletconfigbad\t%s\tmissing\n' "$cleaned"
  elif [ ! -f "$kl_config" ]; then
    printf 'kubeletconfigbad\t%s\tnot a regular file\n' "$cleaned"
  elif [ ! -r "$kl_config" ]; then
    printf 'kubeletconfigbad\t%s\tunreadable\n' "$cleaned"
  else
    printf 'kubeletconfig\t%s\t%s\n' "$cleaned" "$(head -c 262144 "$kl_config" | base64 | tr -d '\n')"
  fi
fi

# regular files only (a FIFO would block, /dev/zero never end), at most 4096 bytes each
for f in "$kroot"/pods/*/userns; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  pod=${f%/userns}
  clean "${pod##*/}"
  pod=$cleaned
  if [ ! -f "$f" ]; then
    printf 'usernsbad\t%s\tnot a regular file\n' "$pod"
  elif [ -r "$f" ]; then
    printf 'userns\t%s\t%s\n' "$pod" "$(head -c 4096 "$f" | tr '\0\t\n' '   ')"
  else
    printf 'usernsbad\t%s\tunreadable\n' "$pod"
  fi
done

# --- --probe: prove idmapped mounts instead of inferring them ------------------------------

# Python with ctypes: a user namespace from fork+unshare, then a new tmpfs (fsopen/fsmount) and
# a clone of the kubelet root (open_tree) are idmapped with mount_setattr while still detached;
# fstat through them must show root's files as the mapped UID. Detached mounts vanish with
# their file descriptors. No single quotes in this text.
py='
import ctypes, errno, os, sys
kroot = sys.argv[1]
HOST = 65536
def out(step, result, detail):
    detail = " ".join(str(detail).split())
    sys.stdout.write("idmap\t%s\t%s\t%s\n" % (step, result, detail))
    sys.stdout.flush()
def why(e):
    return "%s %s" % (errno.errorcode.get(e, str(e)), os.strerror(e))
arch = os.uname()[4]
if arch.startswith(("alpha", "mips", "ia64")):
    out("userns", "skip", "no syscall numbers for %s" % arch)
    sys.exit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    res = libc.syscall(ctypes.c_long(nr), *args)
    if res < 0:
        raise OSError(ctypes.get_errno(), "")
    return res
L = ctypes.c_long
r1, w1 = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r1)
    os.close(w2)
    rc = libc.unshare(0x10000000)
    os.write(w1, str(0 if rc == 0 else ctypes.get_errno()).encode())
    os.read(r2, 1)
    os._exit(0)
os.close(w1)
os.close(r2)
status = int(os.read(r1, 16) or b"-1")
ns = None
try:
    if status != 0:
        raise OSError(status, "")
    for name in ("uid_map", "gid_map"):
        with open("/proc/%d/%s" % (pid, name), "w") as handle:
            handle.write("0 %d 65536\n" % HOST)
    ns = os.open("/proc/%d/ns/user" % pid, os.O_RDONLY)
    out("userns", "ok", "user namespace with 0 %d 65536 created" % HOST)
except OSError as exc:
    out("userns", "fail", why(exc.errno) if exc.errno and exc.errno > 0 else str(exc))
finally:
    os.close(w2)
    os.waitpid(pid, 0)
class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]
def idmap(step, make, what):
    if ns is None:
        out(step, "skip", "no user namespace to map with")
        return
    try:
        fd = make()
    except OSError as exc:
        out(step, "fail", "cannot create %s: %s" % (what, why(exc.errno)))
        return
    try:
        before = os.fstat(fd).st_uid
        attr = MountAttr(0x00100000, 0, 0, ns)
        call(442, L(fd), ctypes.c_char_p(b""), L(0x1000), ctypes.byref(attr), L(32))
        seen = os.fstat(fd)
        if before == 0 and seen.st_uid == HOST and seen.st_gid == HOST:
            out(step, "ok", "%s idmapped: UID 0 shows as %d" % (what, HOST))
        else:
            out(step, "fail", "%s: owner %d shows as %d after idmapping" % (what, before, seen.st_uid))
    except OSError as exc:
        out(step, "fail", "mount_setattr on %s: %s" % (what, why(exc.errno)))
    finally:
        os.close(fd)
def new_tmpfs():
    fs = call(430, ctypes.c_char_p(b"tmpfs"), L(1))
    try:
        call(431, L(fs), L(6), None, None, L(0))
        return call(432, L(fs), L(1), L(0))
    finally:
        os.close(fs)
def clone_root():
    return call(428, L(-100), ctypes.c_char_p(kroot.encode()), L(1 | os.O_CLOEXEC))
idmap("tmpfs", new_tmpfs, "a new tmpfs")
if os.path.isdir(kroot):
    idmap("bind", clone_root, "a bind mount of %s" % kroot)
else:
    out("bind", "skip", "%s does not exist" % kroot)
'

# util-linux >= 2.39: mount -o X-mount.idmap, on a scratch tmpfs in the private namespace.
ul='
kroot=$1 d=
out() { printf "idmap\t%s\t%s\t%s\n" "$1" "$2" "$(printf "%s" "$3" | tr "\t\n" "  ")"; }
for c in /run /mnt /tmp /media; do # a scratch place that does not hide the kubelet root
  case "$kroot/" in "$c"/*) continue ;; esac
  [ -d "$c" ] && { d=$c; break; }
done
[ -n "$d" ] || { out tmpfs fail "no scratch directory to mount on"; exit 0; }
if e=$(unshare -U true 2>&1); then out userns ok "unshare -U works"; else out userns fail "$e"; fi
if ! e=$(mount -t tmpfs -o size=64k,mode=700 kubectl-userns-probe "$d" 2>&1); then
  out tmpfs fail "cannot mount a scratch tmpfs on $d: $e"; exit 0
fi
mkdir "$d/t" "$d/b"
if e=$(mount -t tmpfs -o X-mount.idmap=0:65536:65536 kubectl-userns-idmap "$d/t" 2>&1); then
  u=$(stat -c %u "$d/t")
  if [ "$u" = 65536 ]; then out tmpfs ok "a new tmpfs idmapped: UID 0 shows as 65536"
  else out tmpfs fail "a new tmpfs: UID 0 shows as $u after idmapping"; fi
else out tmpfs fail "$e"; fi
if [ ! -d "$kroot" ]; then out bind skip "$kroot does not exist"
elif e=$(mount --bind -o X-mount.idmap=0:65536:65536 "$kroot" "$d/b" 2>&1); then
  u=$(stat -c %u "$d/b")
  if [ "$u" = 65536 ]; then out bind ok "a bind mount of $kroot idmapped: UID 0 shows as 65536"
  else out bind fail "a bind mount of $kroot: its owner shows as $u after idmapping"; fi
else out bind fail "$e"; fi
'

run_private() { # $1 what, then the command: run it in a private mount namespace, pass records on
  what=$1
  shift
  res=$(unshare -m --propagation private "$@" 2>&1 </dev/null)
  rc=$?
  junk=
  old_ifs=$IFS
  IFS='
'
  set -f
  for line in $res; do
    case $line in "idmap$tab"*) printf '%s\n' "$line" ;; *) junk="$junk $line" ;; esac
  done
  set +f
  IFS=$old_ifs
  if [ "$rc" -ne 0 ] || [ -n "$junk" ]; then
    clean "$junk"
    printf 'idmap\terror\tfail\t%s exited %s:%s\n' "$what" "$rc" "$cleaned"
  fi
}

if [ "$mode" = probe ]; then
  ulver=$(mount --version 2>/dev/null </dev/null | sed -n 's/.*util-linux \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | head -n 1)
  ulmajor=${ulver% *}
  ulminor=${ulver#* }
  first=1
  find_exe python3 "$usual"
  first=
  py3=$exes
  if ! command -v unshare >/dev/null 2>&1; then
    printf 'idmap\ttool\tskip\tunshare (util-linux) is not installed, so no private mount namespace\n'
  elif [ -n "$ulver" ] && { [ "$ulmajor" -gt 2 ] || { [ "$ulmajor" -eq 2 ] && [ "$ulminor" -ge 39 ]; }; }; then
    printf 'idmap\ttool\tok\tmount from util-linux %s.%s (X-mount.idmap)\n' "$ulmajor" "$ulminor"
    run_private "mount -o X-mount.idmap" sh -c "$ul" sh "$kroot"
  elif [ -n "$py3" ]; then
    printf 'idmap\ttool\tok\t%s (mount_setattr through ctypes; util-linux %s has no X-mount.idmap)\n' \
      "$($py3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])' </dev/null 2>&1)" \
      "$(printf '%s' "${ulver:-?}" | tr ' ' '.')"
    run_private python3 "$py3" -c "$py" "$kroot"
  else
    printf 'idmap\ttool\tskip\tno tool here creates idmapped mounts: mount is util-linux %s (X-mount.idmap needs 2.39) and there is no python3\n' \
      "$(printf '%s' "${ulver:-unknown}" | tr ' ' '.')"
  fi
fi
printf 'end\n'
} | sed -e "$escape"
