#!/bin/sh
# Puts EdgeMail on a Raspberry Pi: on the running system, or into a mounted Raspberry Pi OS image
# before it is flashed. Safe to run again: the binary and unit are updated, an existing config is
# never overwritten (the new default goes beside it as edgemail.toml.new), the user is created once.
#
#   sudo ./install.sh [--binary PATH] [--config FILE] [--root DIR] [--no-enable]
#
#   --binary PATH   the edgemail executable (default: artifacts/linux-arm64/edgemail, from ./build.sh publish linux-arm64)
#   --config FILE   configuration template (default: firmware-config/edgemail.toml); device values are applied
#                   to it: listen on 0.0.0.0:25, spool in /var/spool/edgemail
#   --root DIR      install into the root file system mounted at DIR (an SD card or image) instead of /
#   --no-enable     do not enable the service (on a running system: do not start it either)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root=/
binary="$repo/artifacts/linux-arm64/edgemail"
template="$here/edgemail.toml"
enable=yes

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a folder"; root=$2; shift 2 ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --config) [ $# -ge 2 ] || die "--config needs a file"; template=$2; shift 2 ;;
    --no-enable) enable=no; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[ -d "$root" ] || die "root folder $root does not exist"
root=$(cd "$root" && pwd)
[ -f "$binary" ] || die "no binary at $binary (build it: ./build.sh publish linux-arm64, or pass --binary)"
[ -f "$template" ] || die "no configuration template at $template"
R=${root%/}                     # prefix for every path we write; "" on the running system
live=no; [ "$root" = / ] && live=yes
asroot=no; [ "$(id -u)" -eq 0 ] && asroot=yes
[ "$live" = no ] || [ "$asroot" = yes ] || die "installing on this system needs root (sudo), or use --root DIR"

# ---- the service user and groups ------------------------------------------------------------
# On the running system the distribution's tools do it. In an image we must not run the image's
# (arm64) tools, and `useradd --root` needs root and a usable chroot; so the lines are written
# directly, with a free system id (100..999) checked against both passwd and group.
free_id() {  # free_id FILE... : lowest id in 100..999 used as field 3 in none of the files
  awk -F: 'FNR==1{f++} {used[$3]=1} END{for(i=999;i>=100;i--) if(!(i in used)){print i; exit}}' "$@"
}
ensure_group() {  # ensure_group NAME
  if [ "$live" = yes ]; then
    getent group "$1" >/dev/null || { groupadd --system "$1"; say "created group $1"; }
    return
  fi
  grep -q "^$1:" "$R/etc/group" && return
  gid=$(free_id "$R/etc/group" "$R/etc/passwd")
  printf '%s:x:%s:\n' "$1" "$gid" >>"$R/etc/group"
  [ -f "$R/etc/gshadow" ] && printf '%s:!::\n' "$1" >>"$R/etc/gshadow"
  say "created group $1 ($gid) in $R/etc/group"
}
ensure_user() {
  if [ "$live" = yes ]; then
    getent passwd edgemail >/dev/null && return
    useradd --system --gid edgemail --home-dir /var/lib/edgemail --no-create-home \
      --shell /usr/sbin/nologin --comment "EdgeMail daemon" edgemail
    say "created user edgemail"
    return
  fi
  grep -q '^edgemail:' "$R/etc/passwd" && return
  gid=$(awk -F: '$1=="edgemail"{print $3}' "$R/etc/group")
  uid=$(awk -F: -v g="$gid" '{used[$3]=1} END{if(!(g in used)) print g; else for(i=999;i>=100;i--) if(!(i in used)){print i; exit}}' "$R/etc/passwd")
  printf 'edgemail:x:%s:%s:EdgeMail daemon:/var/lib/edgemail:/usr/sbin/nologin\n' "$uid" "$gid" >>"$R/etc/passwd"
  # Locked password ("!*"): nobody logs in as edgemail.
  [ -f "$R/etc/shadow" ] && printf 'edgemail:!*:%s::::::\n' "$(( $(date +%s) / 86400 ))" >>"$R/etc/shadow"
  say "created user edgemail ($uid) in $R/etc/passwd"
}
if [ "$live" = no ]; then
  [ -f "$R/etc/passwd" ] && [ -f "$R/etc/group" ] || die "$R does not look like a root file system (no etc/passwd, etc/group)"
fi
ensure_group edgemail
ensure_group gpio           # Raspberry Pi OS has it; the unit's SupplementaryGroups= needs it to exist
ensure_user

owner() {  # owner USER:GROUP PATH... : numeric ids from the target's files (they differ from the host's)
  [ "$asroot" = yes ] || return 0
  u=$(awk -F: -v n="${1%%:*}" '$1==n{print $3}' "$R/etc/passwd")
  g=$(awk -F: -v n="${1##*:}" '$1==n{print $3}' "$R/etc/group")
  shift
  chown "$u:$g" "$@"
}

# ---- files ----------------------------------------------------------------------------------
install -d -m 0755 "$R/usr/local/bin" "$R/usr/sbin" "$R/usr/bin" "$R/etc/systemd/system" "$R/usr/local/share/doc/edgemail"

# The binary: copied beside, then renamed over the old one, so a running daemon keeps its file.
install -m 0755 "$binary" "$R/usr/local/bin/.edgemail.new"
mv -f "$R/usr/local/bin/.edgemail.new" "$R/usr/local/bin/edgemail"
say "installed $R/usr/local/bin/edgemail"

# The configuration: the template with the device values.
install -d -m 0750 "$R/etc/edgemail"
owner root:edgemail "$R/etc/edgemail"
device_config() {
  awk '
    /^\[/ { section = $0 }
    section == "[server]" && /^listen[ \t]*=/ { print "listen = [\"0.0.0.0:25\"]"; next }
    section == "[spool]" && /^directory[ \t]*=/ { print "directory = \"/var/spool/edgemail\""; next }
    # The four status LEDs on their documented pins (README, "Wire the status LEDs"): on the device they are
    # wanted, so the commented [[leds]] examples become entries. Unwired pins are merely driven; delete an
    # entry to leave a pin alone.
    /^# \[\[leds\]\]$/ { leds = 1; print "[[leds]]"; next }
    /^\[leds_timing\]/ { leds = 0 }
    leds && /^# (name|chip|line|active_low) =/ { print substr($0, 3); next }
    leds && /^#$/ { print ""; next }
    { print }
  ' "$template"
}
config="$R/etc/edgemail/edgemail.toml"
device_config >"$config.tmp.$$"
if [ ! -e "$config" ]; then
  chmod 0640 "$config.tmp.$$"; owner root:edgemail "$config.tmp.$$"
  mv "$config.tmp.$$" "$config"
  say "installed $config"
elif cmp -s "$config.tmp.$$" "$config"; then
  rm -f "$config.tmp.$$"
else
  # Never overwrite an edited config: the new default goes beside it for comparison.
  chmod 0640 "$config.tmp.$$"; owner root:edgemail "$config.tmp.$$"
  mv "$config.tmp.$$" "$config.new"
  say "kept your $config; the new default is $config.new"
fi

install -m 0644 "$here/edgemail.service" "$R/etc/systemd/system/edgemail.service"
say "installed $R/etc/systemd/system/edgemail.service"
# The README (with the "Put it on a Raspberry Pi" guide) goes where the unit's Documentation= points.
if [ -f "$here/../README.md" ]; then
  install -m 0644 "$here/../README.md" "$R/usr/local/share/doc/edgemail/README.md"
fi

# The spool: owned by the daemon. maildrop/ takes messages from `sendmail` run by any local user
# (sticky and write-only for others, like a mail drop box: nobody can list or remove others' drops).
install -d -m 0711 "$R/var/spool/edgemail"
# Set-group-ID as well: drops inherit group edgemail and are written 0640, so the daemon can read a
# drop made by root's cron or any other user (queue files stay 0600).
install -d -m 3733 "$R/var/spool/edgemail/maildrop" "$R/var/spool/edgemail/maildrop/tmp"
owner edgemail:edgemail "$R/var/spool/edgemail" "$R/var/spool/edgemail/maildrop" "$R/var/spool/edgemail/maildrop/tmp"

# sendmail and mailq: the same binary, which looks at the name it was started under. An existing
# MTA's files are left alone (remove that MTA first), never replaced behind its package manager.
link() {  # link PATH
  if [ -L "$R$1" ] && [ "$(readlink "$R$1")" = /usr/local/bin/edgemail ]; then
    return
  fi
  if [ -e "$R$1" ] || [ -L "$R$1" ]; then
    say "warning: $R$1 exists and is not ours; left alone (remove the other MTA, then run install.sh again)"
    return
  fi
  ln -s /usr/local/bin/edgemail "$R$1"
  say "linked $R$1 -> /usr/local/bin/edgemail"
}
link /usr/sbin/sendmail
link /usr/bin/mailq

# ---- enable ---------------------------------------------------------------------------------
if [ "$enable" = yes ]; then
  if [ "$live" = yes ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable edgemail.service
    systemctl restart edgemail.service
    say "edgemail is running: systemctl status edgemail; journalctl -u edgemail"
  else
    # What `systemctl enable` does, done by hand for an image that is not running.
    install -d -m 0755 "$R/etc/systemd/system/multi-user.target.wants"
    ln -sfn /etc/systemd/system/edgemail.service "$R/etc/systemd/system/multi-user.target.wants/edgemail.service"
    say "enabled edgemail.service (starts at the next boot)"
  fi
fi
say "done"
