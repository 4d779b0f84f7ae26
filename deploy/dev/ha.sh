# deploy/dev/ha.sh: sourced by ./pulse-dev, not run alone. The development
# Galera cluster behind `./pulse-dev ha` and the test stage `ha`: three
# mariadbd on loopback ports (DIR/db1..db3), two control stacks (DIR/c1,
# DIR/c2: nginx + pulse-api + pulse-pushd each, a stack dir as
# `./pulse-dev stack` makes, without its own MariaDB), and the workers at
# DIR (workers/, worker-NAME.pid, log/). The production layout it mirrors
# is in deploy/galera/README.md.
#
# Uses pulse-dev's functions (stack_env, envval, db_setup, api_start,
# pushd_start, nginx_start, worker_start, stop_pid, heal, stack_down,
# test_env, free_port, say, die) and its globals REPO and BIN.

HA_NODES=(1 2 3)
HA_CONTROLS=(1 2)
# The workers every HA stack starts with, all in the group demo.
HA_WORKERS=(ha-1 ha-2)
HA_PROVIDER=/usr/lib/galera/libgalera_smm.so

ha_usage() {
	cat <<EOF
usage: ./pulse-dev ha up           install, build and run a three-node Galera
                                   cluster with two control stacks (ports
                                   \${PULSE_PORT:-8080} and the next one)
       ./pulse-dev ha stack DIR    the same on the test build, left running
       ./pulse-dev ha ctl DIR OP   control it (used by tests/ha):
           db-kill N | db-start N | db-stop N       (N: node 1-3)
           control-kill N | control-start N         (N: control stack 1-2)
           pushd-kill N | pushd-start N | sql N 'STMT'
           worker-start NAME GROUPS [KEY=VALUE...] | worker-stop NAME
           worker-kill NAME | status | heal | stop
EOF
}

# ---------------------------------------------------------------- nodes
# Each node's four loopback ports, chosen once and kept in its directory:
# port (clients), gport (Galera replication), istport, sstport.
ha_ports() {
	local dir=$1 n f
	for n in "${HA_NODES[@]}"; do
		mkdir -p "$dir/db$n"
		for f in port gport istport sstport; do
			[ -s "$dir/db$n/$f" ] || free_port >"$dir/db$n/$f"
		done
	done
}

ha_port() { cat "$1/db$2/${3:-port}"; }

# The nodes run as mysql when we are root, as Debian's do: the rsync SST's
# daemon, started by the joining mariadbd, would otherwise run as root,
# and rsync's daemon as root writes as nobody (its default uid) into a
# datadir nobody may not write. Not root, they run as we do.
ha_db_user() { if [ "$(id -u)" -eq 0 ]; then echo mysql; else id -un; fi; }

ha_db_own() {
	[ "$(id -u)" -ne 0 ] || chown -R mysql:mysql "$1"
}

# ha_db_cnf DIR N: node N's my.cnf. Galera needs ROW binlog events,
# InnoDB and interleaved auto-increment locks; the buffer pool and gcache
# are small for a laptop, the gcache big enough that a node killed for a
# few minutes of test traffic rejoins by IST (only the missing write sets)
# rather than a full SST.
ha_db_cnf() {
	local dir=$1 n=$2 d=$1/db$2 m peers=
	for m in "${HA_NODES[@]}"; do
		peers+=${peers:+,}127.0.0.1:$(ha_port "$dir" "$m" gport)
	done
	cat >"$d/my.cnf" <<EOF
[mariadbd]
datadir=$d/mysql
socket=$d/run/mysql.sock
port=$(ha_port "$dir" "$n")
bind-address=127.0.0.1
pid-file=$d/run/mariadbd.pid
tmpdir=$d/tmp
log-error=$d/log/mariadb.log
user=$(ha_db_user)
skip-name-resolve
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=1
max_connections=300
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$HA_PROVIDER
wsrep_cluster_name=pulse-dev-ha
wsrep_cluster_address=gcomm://$peers
wsrep_node_name=db$n
wsrep_node_address=127.0.0.1:$(ha_port "$dir" "$n" gport)
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(ha_port "$dir" "$n" sstport)
wsrep_provider_options="gcache.size=64M;ist.recv_addr=127.0.0.1:$(ha_port "$dir" "$n" istport)"
wsrep_slave_threads=2
EOF
}

ha_node_sql() {
	mariadb --no-defaults -uroot -S "$1/db$2/run/mysql.sock" -N -B "${@:3}"
}

# ha_node_status DIR N VAR: a wsrep status variable of node N, or nothing.
ha_node_status() {
	ha_node_sql "$1" "$2" --connect-timeout=2 -e "SHOW GLOBAL STATUS LIKE '$3'" 2>/dev/null |
		cut -f2
}

ha_node_alive() { pid_alive "$1/db$2/mariadb.pid"; }

# ha_node_start DIR N [bootstrap]: start mariadbd N, joining the others
# (IST from a peer's gcache, or SST by rsync into an empty datadir), or
# with bootstrap as the first node of a new cluster. Does not wait.
ha_node_start() {
	local dir=$1 n=$2 d=$1/db$2 how=${3:-join} args=() pos
	mkdir -p "$d/run" "$d/log" "$d/tmp" "$d/mysql"
	ha_db_cnf "$dir" "$n"
	ha_db_own "$d"
	# gvwstate.dat (a crashed node's last view) would have it wait for
	# that view's members to reform it; we say how it starts instead.
	rm -f "$d/mysql/gvwstate.dat"
	if [ "$how" = bootstrap ]; then
		# The simple documented recovery when no node runs: this one
		# starts the new cluster with what it has. (Picking the node
		# with the highest recovered seqno matters when nodes died at
		# different times; here they share one machine.)
		[ ! -f "$d/mysql/grastate.dat" ] ||
			sed -i 's/^safe_to_bootstrap: *0/safe_to_bootstrap: 1/' "$d/mysql/grastate.dat"
		args+=(--wsrep-new-cluster)
	fi
	# After a kill -9 grastate.dat says seqno -1: recover the position
	# from InnoDB, as Debian's galera_recovery does before each start, so
	# that the node rejoins by IST instead of a full SST.
	if grep -q '^seqno: *-1' "$d/mysql/grastate.dat" 2>/dev/null; then
		mariadbd --defaults-file="$d/my.cnf" --wsrep-recover --disable-log-error \
			2>"$d/log/recover.log" >/dev/null || true
		pos=$(sed -n 's/.*WSREP: Recovered position: *//p' "$d/log/recover.log" | tail -n 1)
		[ -z "$pos" ] || args+=("--wsrep_start_position=$pos")
	fi
	mariadbd --defaults-file="$d/my.cnf" ${args[@]+"${args[@]}"} >>"$d/log/mariadb.log" 2>&1 &
	echo $! >"$d/mariadb.pid"
	disown $!
}

# ha_node_wait DIR N [rejoin]: until node N is Synced and ready for
# clients (an SST of a fresh datadir takes a few seconds; a big one
# longer). With rejoin, every 5 s it sees that some node is primary (see
# ha_primary).
ha_node_wait() {
	local dir=$1 n=$2 i
	for i in $(seq 1 1200); do
		if [ "$(ha_node_status "$dir" "$n" wsrep_local_state_comment)" = Synced ] &&
			[ "$(ha_node_status "$dir" "$n" wsrep_ready)" = ON ]; then
			return 0
		fi
		[ -z "${3:-}" ] || [ $((i % 50)) -ne 0 ] || ha_primary "$dir" "$n" || true
		ha_node_alive "$dir" "$n" ||
			{ tail -n 30 "$dir/db$n/log/mariadb.log" >&2; die "mariadbd $n exited (log: $dir/db$n/log/mariadb.log)"; }
		sleep 0.1
	done
	die "mariadbd $n did not reach Synced in 120 s (log: $dir/db$n/log/mariadb.log)"
}

# ha_primary DIR N: if no running node but N is in the primary component
# (two of three were killed at once: the one left lost its quorum; it
# may take Galera's 5 s suspect timeout to say so), the first of them is
# told to be primary again (pc.bootstrap, Galera's documented way out).
# Nonzero when no node but N runs.
ha_primary() {
	local dir=$1 n=$2 m live=()
	for m in "${HA_NODES[@]}"; do
		[ "$m" = "$n" ] || ! ha_node_alive "$dir" "$m" || live+=("$m")
	done
	[ ${#live[@]} -gt 0 ] || return 1
	for m in "${live[@]}"; do
		[ "$(ha_node_status "$dir" "$m" wsrep_cluster_status)" != Primary ] || return 0
	done
	say "no running node is in the primary component: node ${live[0]} becomes primary"
	ha_node_sql "$dir" "${live[0]}" -e "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'" ||
		say "warning: pc.bootstrap on node ${live[0]} failed"
}

# ha_db_start DIR N: node N back into the cluster, waiting until Synced;
# with no other node running it bootstraps.
ha_db_start() {
	local dir=$1 n=$2
	ha_node_alive "$dir" "$n" && { ha_node_wait "$dir" "$n" rejoin; return 0; }
	if ha_primary "$dir" "$n"; then
		ha_node_start "$dir" "$n"
	else
		say "no other database node runs: node $n bootstraps the cluster"
		ha_node_start "$dir" "$n" bootstrap
	fi
	ha_node_wait "$dir" "$n" rejoin
}

# ha_db_kill DIR N: kill -9 of node N, with an SST script and its rsync
# daemon if it was in one (a daemon left would hold the SST port).
ha_db_kill() {
	local f=$1/db$2/mariadb.pid pids
	[ -f "$f" ] || die "database node $2 is not running"
	pids=$(ha_tree "$(cat "$f")")
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	rm -f "$f"
	# shellcheck disable=SC2086
	ha_wait_gone $pids
}

# ha_tree PID: PID and its descendants, parents first.
ha_tree() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1"); do ha_tree "$p"; done
}

# ha_db_stop DIR N: a clean shutdown (Galera leaves the cluster in order);
# a node with a big buffer pool may need more than 10 s.
ha_db_stop() { stop_pid "$1/db$2/mariadb.pid" 30; }

# ha_cluster DIR: a new cluster on empty datadirs (node 1 initialised and
# bootstrapped, 2 and 3 joining by SST at once), or the same cluster again
# from its datadirs (node 1 bootstraps, the others rejoin by IST).
ha_cluster() {
	local dir=$1 d=$1/db1
	ha_ports "$dir"
	mkdir -p "$d/log" "$d/mysql"
	if [ ! -d "$d/mysql/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$d/mysql" --user="$(ha_db_user)" \
			--auth-root-authentication-method=socket --skip-test-db \
			>"$d/log/mariadb-install.log" 2>&1 ||
			{ cat "$d/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
	fi
	ha_node_start "$dir" 1 bootstrap
	ha_node_wait "$dir" 1
	ha_node_start "$dir" 2
	ha_node_start "$dir" 3
	ha_node_wait "$dir" 2
	ha_node_wait "$dir" 3
	[ "$(ha_node_status "$dir" 1 wsrep_cluster_size)" = 3 ] ||
		die "the cluster has $(ha_node_status "$dir" 1 wsrep_cluster_size) nodes, not 3"
}

# ---------------------------------------------------------------- control
# ha_db_hosts DIR N: control stack N's DB_HOST, node N first, then the
# others in order (common/db-conn.c tries them in that order).
ha_db_hosts() {
	local dir=$1 n=$2 m list
	list=127.0.0.1:$(ha_port "$1" "$2")
	for m in "${HA_NODES[@]}"; do
		[ "$m" = "$n" ] || list+=,127.0.0.1:$(ha_port "$dir" "$m")
	done
	printf '%s' "$list"
}

# env_set FILE KEY VALUE: replace KEY's line (values here are paths,
# ports and hex: no sed metacharacters but the '|' they never hold).
env_set() {
	if grep -q "^$2=" "$1"; then
		sed -i "s|^$2=.*|$2=$3|" "$1"
	else
		printf '%s=%s\n' "$2" "$3" >>"$1"
	fi
}

# ha_control_env DIR N: control stack N's pulse.env, once: stack_env's,
# over TCP to the node list, with the cluster's one secret set (c1's).
ha_control_env() {
	local dir=$1 n=$2 c=$1/c$2 k
	[ -f "$c/pulse.env" ] && return 0
	mkdir -p "$c"
	stack_env "$c" "$(ha_port "$dir" "$n")"
	env_set "$c/pulse.env" DB_SOCKET ""
	env_set "$c/pulse.env" DB_HOST "$(ha_db_hosts "$dir" "$n")"
	if [ "$n" != 1 ]; then
		for k in DB_PASSWORD SECRET_KEY WORKER_API_KEY; do
			env_set "$c/pulse.env" "$k" "$(envval "$dir/c1" "$k")"
		done
	fi
	env_set "$c/pulse.env" PULSE_NODE_ID "c$n"
}

# ha_control_dir DIR N PORT: c N as a stack dir pulse-dev's single-stack
# functions take: its port, its parts (heal and stack_down read
# DIR/components: no MariaDB or workers of its own), and run/mysql.sock
# pointing at node N's, for `./pulse-dev ctl DIR/cN sql` and the tokens
# worker_start writes.
ha_control_dir() {
	local dir=$1 n=$2 c=$1/c$2
	mkdir -p "$c/run" "$c/log"
	chmod 755 "$c"
	echo "$3" >"$c/port"
	echo "api pushd nginx" >"$c/components"
	ln -sfn "$dir/db$n/run/mysql.sock" "$c/run/mysql.sock"
	cp "$dir/bin" "$c/bin"
	ha_control_env "$dir" "$n"
}

ha_control_kill() {
	local c=$1/c$2 f pids=()
	for f in nginx api pushd; do
		pid_alive "$c/$f.pid" || continue
		# nginx's workers and pulse-api's children outlive a killed
		# master: they go too, as when a host dies.
		mapfile -t -O ${#pids[@]} pids < <(ha_tree "$(cat "$c/$f.pid")")
	done
	[ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
	rm -f "$c/nginx.pid" "$c/api.pid" "$c/pushd.pid"
	# Gone, not dying (a sanitizer build takes a moment to unmap): a
	# control-start right after must find the port and sockets free.
	ha_wait_gone ${pids[@]+"${pids[@]}"}
}

# ha_wait_gone PID...: until none of them runs (up to 10 s).
ha_wait_gone() {
	local p _
	for _ in $(seq 1 100); do
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null && break
			p=
		done
		[ -n "${p:-}" ] || return 0
		sleep 0.1
	done
}

# ---------------------------------------------------------------- stack
ha_urls() {
	local dir=$1 n urls=
	for n in "${HA_CONTROLS[@]}"; do
		urls+=${urls:+,}http://127.0.0.1:$(cat "$dir/c$n/port")
	done
	printf '%s' "$urls"
}

# ha_stack_up DIR PORT1 PORT2: the cluster, the schema (once, through c1),
# both control stacks and the two workers.
ha_stack_up() {
	local dir=$1 t0=$SECONDS n w
	mkdir -p "$dir/log" "$dir/run"
	chmod 755 "$dir"
	echo "$BIN" >"$dir/bin"
	ha_cluster "$dir"
	say "galera: 3 nodes Synced in $((SECONDS - t0)) s"
	ha_control_dir "$dir" 1 "$2"
	ha_control_dir "$dir" 2 "$3"
	db_setup "$dir/c1"
	for n in "${HA_CONTROLS[@]}"; do
		api_start "$dir/c$n"
		pushd_start "$dir/c$n"
		nginx_start "$dir/c$n" "$(cat "$dir/c$n/port")"
	done
	# The workers' server list, both control stacks, c1 first
	# (worker_start reads DIR/servers).
	ha_urls "$dir" >"$dir/servers"
	for w in "${HA_WORKERS[@]}"; do
		worker_start "$dir" "$w" demo
	done
	say "HA stack up in $((SECONDS - t0)) s"
}

ha_stack_down() {
	local dir=$1 f n
	for f in "$dir"/worker-*.pid; do
		[ -e "$f" ] && stop_pid "$f"
	done
	for n in 2 1; do
		[ -d "$dir/c$n" ] && stack_down "$dir/c$n"
	done
	# The last node to stop is safe to bootstrap from: node 1, which
	# ha_cluster bootstraps when the stack starts again. A node not
	# Synced (joining, or cut off) can take its 30 s to stop on TERM and
	# has nothing to keep: it is killed.
	for n in 3 2 1; do
		ha_node_alive "$dir" "$n" || continue
		if [ "$(ha_node_status "$dir" "$n" wsrep_local_state_comment)" = Synced ]; then
			ha_db_stop "$dir" "$n"
		else
			ha_db_kill "$dir" "$n"
		fi
	done
}

# ha_heal DIR: every dead node, control part and default worker again.
ha_heal() {
	local dir=$1 n w
	for n in "${HA_NODES[@]}"; do
		ha_node_alive "$dir" "$n" && continue
		say "database node $n is not running; starting it"
		(ha_db_start "$dir" "$n") || say "start of database node $n failed"
	done
	# In subshells: a part that does not start says so (die) and the
	# others are still healed; ha up's supervisor goes on.
	for n in "${HA_CONTROLS[@]}"; do
		(heal "$dir/c$n") || say "healing control stack $n failed"
	done
	for w in "${HA_WORKERS[@]}"; do
		pid_alive "$dir/worker-$w.pid" && continue
		say "worker $w is not running; starting it"
		worker_start "$dir" "$w" demo || say "start of worker $w failed"
	done
}

# ha_healthy DIR: every node Synced, every control part and default
# worker running; else names what is not, nonzero.
ha_healthy() {
	local dir=$1 n c w bad=0
	for n in "${HA_NODES[@]}"; do
		[ "$(ha_node_status "$dir" "$n" wsrep_local_state_comment)" = Synced ] ||
			{ say "database node $n is not Synced"; bad=1; }
	done
	for n in "${HA_CONTROLS[@]}"; do
		for c in $(components "$dir/c$n"); do
			pid_alive "$dir/c$n/$c.pid" || { say "c$n: $c is not running"; bad=1; }
		done
	done
	for w in "${HA_WORKERS[@]}"; do
		pid_alive "$dir/worker-$w.pid" || { say "worker $w is not running"; bad=1; }
	done
	return $bad
}

# ha_env DIR: DIR/ha.env, control stack 1's test.env (its PULSE_URL,
# PULSE_CTL on DIR/c1, ...) and the cluster's own variables.
ha_env() {
	local dir=$1 n ports=
	test_env "$dir/c1"
	for n in "${HA_NODES[@]}"; do
		ports+=${ports:+,}$(ha_port "$dir" "$n")
	done
	{
		cat "$dir/c1/test.env"
		echo "PULSE_URLS=$(ha_urls "$dir")"
		echo "PULSE_HA_DIR=$dir"
		echo "PULSE_HA_CTL=\"$REPO/pulse-dev ha ctl $dir\""
		echo "PULSE_HA_DB_PORTS=$ports"
	} >"$dir/ha.env"
}

# ha_status DIR: one line a node (dbN STATE CLUSTER_SIZE CLUSTER_STATUS,
# "down - -" when not running), one a control stack (cN URL up|down, the
# dead parts named).
ha_status() {
	local dir=$1 n c st down
	for n in "${HA_NODES[@]}"; do
		if ha_node_alive "$dir" "$n"; then
			st=$(ha_node_status "$dir" "$n" wsrep_local_state_comment)
			echo "db$n ${st:-starting} $(ha_node_status "$dir" "$n" wsrep_cluster_size || true) $(ha_node_status "$dir" "$n" wsrep_cluster_status || true)"
		else
			echo "db$n down - -"
		fi
	done
	for n in "${HA_CONTROLS[@]}"; do
		down=
		for c in $(components "$dir/c$n"); do
			pid_alive "$dir/c$n/$c.pid" || down+=" $c"
		done
		echo "c$n http://127.0.0.1:$(cat "$dir/c$n/port") ${down:+down:}${down:-up}"
	done
}

# ---------------------------------------------------------------- commands
ha_check_n() {
	case $2 in
	[1-9]) [ -d "$1$2" ] || die "no such node or control stack: $1$2" ;;
	*) die "not a number 1-9: $2" ;;
	esac
}

cmd_ha_ctl() {
	[ $# -ge 2 ] || { ha_usage; exit 2; }
	local dir=$1 op=$2
	[ -d "$dir/db1" ] || die "$dir is not an HA stack (no db1/)"
	dir=$(cd "$dir" && pwd)
	BIN=${PULSE_BIN:-$(cat "$dir/bin" 2>/dev/null || echo "$REPO/build/dev")}
	case $op in
	db-kill | db-start | db-stop | sql) [ $# -ge 3 ] || { ha_usage; exit 2; }; ha_check_n "$dir/db" "$3" ;;
	control-kill | control-start | pushd-kill | pushd-start)
		[ $# -ge 3 ] || { ha_usage; exit 2; }; ha_check_n "$dir/c" "$3" ;;
	worker-start | worker-stop | worker-kill) [ $# -ge 3 ] || { ha_usage; exit 2; } ;;
	esac
	case $op in
	db-kill) ha_db_kill "$dir" "$3" ;;
	db-start) ha_db_start "$dir" "$3" ;;
	db-stop) ha_db_stop "$dir" "$3" ;;
	sql) [ $# -eq 4 ] || { ha_usage; exit 2; }; ha_node_sql "$dir" "$3" pulse -e "$4" ;;
	control-kill) ha_control_kill "$dir" "$3" ;;
	control-start) heal "$dir/c$3" ;;
	pushd-kill) kill -KILL "$(cat "$dir/c$3/pushd.pid")"; rm -f "$dir/c$3/pushd.pid" ;;
	pushd-start) pushd_start "$dir/c$3" ;;
	worker-start) shift 2; worker_start "$dir" "$@" ;;
	worker-stop) stop_pid "$dir/worker-$3.pid" ;;
	worker-kill) kill -KILL "$(cat "$dir/worker-$3.pid")"; rm -f "$dir/worker-$3.pid" ;;
	status) ha_status "$dir" ;;
	heal) ha_heal "$dir" ;;
	stop) ha_stack_down "$dir" ;;
	*) ha_usage; exit 2 ;;
	esac
}

# ./pulse-dev ha stack DIR: the test build's HA stack in DIR, left running.
cmd_ha_stack() {
	[ $# -eq 1 ] || { ha_usage; exit 2; }
	install_deps
	build_for_stack
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	ha_node_alive "$dir" 1 && die "an HA stack is already running in $dir"
	# nginx's workers (nobody) and the nodes (mysql) must pass through
	# DIR's parents.
	nginx_can_reach "$dir/c1" || exit 1
	export ASAN_OPTIONS=$ASAN_TEST_OPTIONS
	export UBSAN_OPTIONS=print_stacktrace=1
	export PULSE_WORKER_PATH=$TEST_WORKER_PATH
	ha_stack_up "$dir" "$(free_port)" "$(free_port)"
	ha_env "$dir"
	echo "HA stack running in $dir: set -a; . $dir/ha.env; set +a"
}

# ./pulse-dev ha up: as ./pulse-dev up, on the cluster; Ctrl-C stops it.
cmd_ha_up() {
	install_deps
	local dir=${PULSE_VAR:-$REPO/var}/ha port=${PULSE_PORT:-8080}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	nginx_can_reach "$dir/c1" || exit 1
	build dev
	ha_node_alive "$dir" 1 && die "an HA stack is already running from $dir"
	UP_DIR=$dir
	UP_SUP=
	trap 'say "stopping"; [ -z "${UP_SUP:-}" ] || kill "$UP_SUP" 2>/dev/null; [ -z "${UP_DIR:-}" ] || ha_stack_down "$UP_DIR"; exit 0' INT TERM
	trap '[ -z "${UP_SUP:-}" ] || kill "$UP_SUP" 2>/dev/null; [ -z "${UP_DIR:-}" ] || ha_stack_down "$UP_DIR"' EXIT
	ha_stack_up "$dir" "$port" "${PULSE_PORT2:-$((port + 1))}"
	seed_examples "http://127.0.0.1:$port" "$dir/c1/log"
	echo "PULSE HA is up at $(ha_urls "$dir" | sed 's/,/ and /')"
	echo "Log in with admin/admin (admin), employee/employee (employee) or outsider/outsider (no role);"
	echo "alice, bob and carol (password: the name) are employees in the group leads, for approvals."
	echo "Database nodes: $(for n in "${HA_NODES[@]}"; do printf '127.0.0.1:%s ' "$(ha_port "$dir" "$n")"; done)(./pulse-dev ha ctl $dir status)"
	echo "Logs: $dir/db*/log $dir/c*/log $dir/log   Stop: Ctrl-C"
	(while sleep 2; do ha_heal "$dir"; done) &
	UP_SUP=$!
	wait "$UP_SUP" || true
}

# ---------------------------------------------------------------- test
# The `ha` stage of ./pulse-dev test. Global so that cmd_test's traps
# stop the stack however the run ends.
HA_TEST_DIR=

ha_test_stop() {
	[ -z "$HA_TEST_DIR" ] || ha_stack_down "$HA_TEST_DIR"
}

# ha_test_stage FILE...: run inside cmd_test (its tally, not_run,
# stage_begin, stage_end, sanitizer_check, artifacts): one HA stack for
# the files, each under the same 600 s limit as the integration files,
# healed between them, stopped and its logs kept at the end.
ha_test_stage() {
	local f name out rc i=0 broken=
	stage_begin ha "HA tests (three Galera nodes, two control stacks)"
	HA_TEST_DIR=$(mktemp -d /tmp/pulse-ha.XXXXXX)
	chmod 755 "$HA_TEST_DIR"
	# cmd_test's own stack, if it has one, and this one.
	trap '[ -z "${dir:-}" ] || stack_down "$dir"; ha_test_stop' EXIT
	trap '[ -z "${dir:-}" ] || stack_down "$dir"; ha_test_stop; exit 130' INT TERM
	export PULSE_WORKER_PATH=$TEST_WORKER_PATH
	say "starting an HA stack in $HA_TEST_DIR"
	# In a subshell, as the other stack: a part that does not start
	# ends the stage, not the run.
	rc=0
	(ha_stack_up "$HA_TEST_DIR" "$(free_port)" "$(free_port)" && ha_env "$HA_TEST_DIR") &
	wait $! || rc=$?
	[ $rc -eq 0 ] || broken="the HA stack did not start"
	for f in "$@"; do
		i=$((i + 1))
		name=ha/$(basename "$f")
		if [ -n "$broken" ]; then not_run "$name" "$broken"; continue; fi
		out=$artifacts/ha-$(basename "$f" .py)
		rc=0
		(set -a
			# shellcheck disable=SC1091
			. "$HA_TEST_DIR/ha.env"
			set +a
			timeout 600 python3 "$f") >"$out.tap" 2>"$out.err" || rc=$?
		tally "$name" "$out.tap" "$out.err" "$rc"
		[ "$i" -lt $# ] || break
		(ha_heal "$HA_TEST_DIR") &
		wait $! || true
		if ! ha_healthy "$HA_TEST_DIR"; then
			broken="the HA stack could not be healed (after $name)"
			say "FAIL: $broken; the ha stage stops here"
		fi
	done
	ha_stack_down "$HA_TEST_DIR"
	sanitizer_check "the HA stack logs" "$HA_TEST_DIR"/log/*.log "$HA_TEST_DIR"/c*/log/*.log
	mkdir -p "$artifacts/ha-log"
	cp -r "$HA_TEST_DIR/log" "$artifacts/ha-log/workers" 2>/dev/null || true
	for f in "$HA_TEST_DIR"/db* "$HA_TEST_DIR"/c*; do
		cp -r "$f/log" "$artifacts/ha-log/$(basename "$f")" 2>/dev/null || true
	done
	rm -rf "$HA_TEST_DIR"
	HA_TEST_DIR=
	stage_end
}

cmd_ha() {
	case ${1:-} in
	up) shift; cmd_ha_up "$@" ;;
	stack) shift; cmd_ha_stack "$@" ;;
	ctl) shift; cmd_ha_ctl "$@" ;;
	*) ha_usage; exit 2 ;;
	esac
}
