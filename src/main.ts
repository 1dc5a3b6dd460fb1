// The `dfs` command line: parses flags with cac and starts exactly one role.
// Exit codes: 0 success, 1 failure at run time, 2 bad usage.

import { cac, type Command } from 'cac';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { DEMO_NODES_DEFAULT, DEMO_NODES_MAX, NODE_TIMEOUT_S_DEFAULT, ORPHAN_GRACE_S_DEFAULT, REPLICAS_DEFAULT, REPLICAS_MAX, SCRUB_BYTES_PER_S_DEFAULT, SCRUB_INTERVAL_S_DEFAULT } from './limits';
import { removePartialFiles } from './client/transfer';
import { ConfigError, envName, Settings } from './config';
import { notifySystemd } from './systemd';
import type { ScrubSettings } from './node/scrub';
import { createLog, LOG_FORMATS, LOG_LEVELS, type Log, type LogFormat, type LogLevel } from './log';
import { formatHostPort, parseHostPort, type HostPort } from './wire/address';
import { DfsError } from './wire/errors';
import { EXIT_SOFTWARE, LAST_RESORT_MARKER, LISTENING_PREFIX, selfCommand, STOP_ON_STDIN_EOF } from './process';
import { isLocalCommandRunning } from './shell/commands/local';
import { commandList } from './shell/commands/meta';
import { completionScript } from './completion';
import { COMMANDS as SHELL_COMMANDS } from './shell/registry';
import { SHARED_USER } from './shell/session';
import { formatSize, parseCount, parseSeconds, parseSize } from './units';
import { VERSION } from './version';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const MASTER_LISTEN_DEFAULT = '0.0.0.0:7070';
const NODE_LISTEN_DEFAULT = '0.0.0.0:7071';

class UsageError extends Error {}

type Flags = Record<string, unknown>;

function text(flags: Flags, name: string, env?: string): string | undefined {
  const value = flags[name] ?? (env ? process.env[env] : undefined);
  if (value === undefined || value === true || value === false) return undefined;
  if (Array.isArray(value)) throw new UsageError(`--${name} given more than once`);
  if (typeof value === 'number' && flags[name] !== undefined) return typedValue(name) ?? String(value);
  return String(value);
}

/** The word typed after a flag: cac (mri) turns number-like values into numbers ("" → 0, "0123" → 123). */
function typedValue(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const flag = name.length === 1 ? `-${name}` : `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  let found: string | undefined;
  argv.forEach((word, index) => {
    if (word === flag) found = argv[index + 1];
    else if (word.startsWith(`${flag}=`)) found = word.slice(flag.length + 1);
  });
  return found;
}

function required(settings: Settings, name: string): string {
  const value = settings.get(name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required (or ${envName(name)}, or "${name} = …" in the --config file)`);
  return value;
}

/** A role's settings: its flags, its environment variables and its config file (src/config.ts). */
function roleSettings(flags: Flags, command: Command): Settings {
  const names = command.options.map((option) => /--([a-z-]+)/.exec(option.rawName)?.[1]).filter((name): name is string => name !== undefined && name !== 'help' && name !== 'config');
  return Settings.load((name) => text(flags, name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())), names);
}

/**
 * The last resort of a server role. Every stream, socket and request handles its own errors (a peer's
 * reset ends that transfer, never the process), so a throw that reaches here is a bug: it is logged whole
 * and the role exits non-zero at once, for its supervisor (systemd, dfs demo's operator) to restart it from
 * its durable state, rather than run on in a state nobody planned for.
 */
function exitOnUncaught(log: Log): void {
  const die = (kind: string, error: unknown): void => {
    log.error(`${LAST_RESORT_MARKER} ${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}; exiting`);
    process.exit(EXIT_SOFTWARE);
  };
  process.on('uncaughtException', (error) => die('exception', error));
  process.on('unhandledRejection', (reason) => die('rejection', reason));
}

/**
 * Runs a server role until SIGTERM or SIGINT, then stops it cleanly and exits 0. With `role`, SIGHUP never stops it:
 * the role re-reads its settings (the config file; the environment is the process's own) and applies those that
 * change without a restart; logs go to stderr, so there is no log file to re-open. Without (the demo, tied to its
 * terminal), SIGHUP stops it like SIGTERM.
 */
function serveUntilSignal(stop: () => Promise<void>, role?: { log: Log; reload: () => Promise<void> }): void {
  let stopping = false;
  const onSignal = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: shutting down\n`);
    (role ? notifySystemd(role.log, 'STOPPING=1') : Promise.resolve()).then(stop).then(
      () => process.exit(0),
      () => process.exit(EXIT_FAILURE),
    );
  };
  let reloading = Promise.resolve();
  const onReload = (log: Log, reload: () => Promise<void>): void => {
    reloading = reloading.then(async () => {
      if (stopping) return;
      await notifySystemd(log, 'RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
      try {
        await reload();
      } catch (error) {
        log.error(`SIGHUP: settings not changed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await notifySystemd(log, 'READY=1');
    });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => (role ? onReload(role.log, role.reload) : onSignal('SIGHUP')));
  if (process.env[STOP_ON_STDIN_EOF] === '1') {
    process.stdin.on('end', () => onSignal('parent process gone')).resume();
  }
}

/**
 * A started role until a signal: it says where it serves (metrics first, so that whoever waits for "listening on"
 * finds both), and on SIGHUP `reconfigure` gets the settings read again; the log says which changed settings were
 * applied (`live`) and which only a restart applies.
 */
function serveRole(log: Log, role: { address: HostPort; metricsAddress: HostPort | undefined; stop(): Promise<void> }, settings: Settings, live: readonly string[], reconfigure: (next: Settings) => Promise<void> | void): void {
  if (role.metricsAddress) process.stdout.write(`metrics on ${formatHostPort(role.metricsAddress)}\n`);
  process.stdout.write(`${LISTENING_PREFIX}${formatHostPort(role.address)}\n`);
  let current = settings;
  const reload = async (): Promise<void> => {
    const next = current.reload();
    await reconfigure(next);
    const changed = settings.names.filter((name) => current.get(name) !== next.get(name));
    const applied = changed.filter((name) => live.includes(name));
    const later = changed.filter((name) => !live.includes(name));
    log.info(`SIGHUP: settings re-read; ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'nothing to apply'}${later.length > 0 ? `; a restart is needed for ${later.join(', ')}` : ''}`);
    current = next;
  };
  serveUntilSignal(role.stop, { log, reload });
}

function optionalAddress(settings: Settings, name: string): HostPort | undefined {
  const value = settings.get(name);
  return value === undefined || value === '' ? undefined : parseHostPort(value);
}

/** A role's log, at the level and in the format its settings ask for. */
function roleLog(role: string, settings: Settings): Log {
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = settings.get(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
  return createLog(role, { level: oneOf<LogLevel>('log-level', LOG_LEVELS, 'info'), format: oneOf<LogFormat>('log-format', LOG_FORMATS, 'text') });
}

/** The master's settings that a reload applies. */
function masterTunables(settings: Settings): { replicas: number; nodeTimeoutMs: number } {
  return {
    replicas: parseCount(settings.get('replicas') ?? String(REPLICAS_DEFAULT), '--replicas', 1, REPLICAS_MAX),
    nodeTimeoutMs: parseSeconds(settings.get('node-timeout') ?? String(NODE_TIMEOUT_S_DEFAULT), '--node-timeout') * 1000,
  };
}

async function runMaster(settings: Settings): Promise<void> {
  const advertise = settings.get('advertise');
  const log = roleLog('master', settings);
  exitOnUncaught(log);
  // Each role loads only its own code (the catalog's WASM, the node's store…): a client starts faster.
  const { startMaster } = await import('./master/master.js');
  const master = await startMaster({
    dataDir: required(settings, 'data'),
    listen: parseHostPort(settings.get('listen') ?? MASTER_LISTEN_DEFAULT),
    ...(advertise ? { advertise: parseHostPort(advertise) } : {}),
    ...masterTunables(settings),
    orphanGraceMs: parseSeconds(settings.get('orphan-grace') ?? String(ORPHAN_GRACE_S_DEFAULT), '--orphan-grace', true) * 1000,
    metrics: optionalAddress(settings, 'metrics'),
    log,
  });
  serveRole(log, master, settings, ['replicas', 'node-timeout'], (next) => master.reconfigure(masterTunables(next)));
  void notifySystemd(log, 'READY=1', `STATUS=serving on ${formatHostPort(master.address)}`);
}

/** The node's settings that a reload applies. */
function nodeTunables(settings: Settings): { capacityBytes: number | undefined; scrub: ScrubSettings } {
  const capacity = settings.get('capacity');
  const capacityBytes = capacity === undefined ? undefined : parseSize(capacity);
  if (capacityBytes === 0) throw new UsageError('--capacity must be more than 0 (leave it out to offer the whole disk)');
  const scrubRate = settings.get('scrub-rate');
  return {
    capacityBytes,
    scrub: {
      bytesPerSecond: scrubRate === undefined ? SCRUB_BYTES_PER_S_DEFAULT : parseSize(scrubRate),
      intervalMs: parseSeconds(settings.get('scrub-interval') ?? String(SCRUB_INTERVAL_S_DEFAULT), '--scrub-interval') * 1000,
    },
  };
}

async function runNode(settings: Settings): Promise<void> {
  const tokenFile = settings.get('token-file');
  const caFile = settings.get('ca');
  const advertise = settings.get('advertise');
  const tunables = nodeTunables(settings);
  const log = roleLog('node', settings);
  exitOnUncaught(log);
  const { startNode } = await import('./node/node.js');
  const node = await startNode({
    master: parseHostPort(required(settings, 'master')),
    tokenText: settings.get('token') ?? (tokenFile ? readFileSync(tokenFile, 'utf8') : undefined),
    caPem: caFile ? readFileSync(caFile, 'utf8') : undefined,
    dataDir: required(settings, 'data'),
    listen: parseHostPort(settings.get('listen') ?? NODE_LISTEN_DEFAULT),
    advertise: advertise ? parseHostPort(advertise) : undefined,
    ...tunables,
    metrics: optionalAddress(settings, 'metrics'),
    log,
    // Ready for systemd once registered: before that the master would not place anything here.
    onRegistered: () => void notifySystemd(log, 'READY=1', 'STATUS=registered with the master'),
  });
  serveRole(log, node, settings, ['capacity', 'scrub-rate', 'scrub-interval'], (next) => node.reconfigure(nodeTunables(next)));
}

/** How to run this program again from the current directory, for hints printed to the user. */
function selfCommandLine(): string {
  const self = selfCommand();
  const shorter = (part: string): string => {
    const relative = path.relative(process.cwd(), part);
    return !path.isAbsolute(part) || relative === '' || relative.startsWith('..') ? part : relative;
  };
  return [self.command, ...self.args].map(shorter).join(' ');
}

async function runDemo(flags: Flags): Promise<void> {
  const nodes = parseCount(text(flags, 'nodes') ?? String(DEMO_NODES_DEFAULT), '--nodes', 1, DEMO_NODES_MAX);
  const dataDir = text(flags, 'data') ?? './dfs-demo';
  process.stderr.write(`starting a master and ${nodes} storage nodes under ${dataDir} ...\n`);
  const { startDemo } = await import('./demo.js');
  const demo = await startDemo({ nodes, dataDir });
  const master = formatHostPort(demo.master);
  process.stderr.write(
    [
      `dfs demo: master on ${master} with ${nodes} nodes; logs in ${dataDir}/logs/`,
      `  other terminals: ${selfCommandLine()} shell ${master} --ca ${demo.caFile}`,
      `  admin password:  ${path.join(dataDir, 'master', 'admin-password')} (dfs shell … --user admin)`,
      '  type "help" for commands, "exit" (or Ctrl-D) to leave and stop the cluster',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (): Promise<void> => {
    stopping = true;
    return demo.stop();
  };
  serveUntilSignal(stop);
  void demo.failed.then((name) => {
    if (!stopping) process.stderr.write(`\ndfs demo: ${name} stopped unexpectedly; see ${dataDir}/logs/${name}.log\n`);
  });
  const { runShell } = await import('./shell/shell.js');
  const status = await runShell({ address: master, caFile: demo.caFile, user: SHARED_USER });
  await stop();
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(status);
}

/**
 * A client stopped by a signal (SIGINT, SIGTERM, SIGHUP) removes the temporary files of downloads in progress and
 * exits as the signal would (128 + its number): an interrupted get leaves nothing beside its target.
 */
function cleanUpOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (signal === 'SIGINT' && isLocalCommandRunning()) return; // Ctrl-C during !COMMAND stops that command only
      removePartialFiles();
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    });
  }
}

/** `dfs shell`: the shell reports its own errors; its status is the process's exit code. */
async function runShellRole(address: string | undefined, flags: Flags): Promise<void> {
  cleanUpOnSignals();
  if (Array.isArray(flags.c)) throw new UsageError('-c given more than once; separate commands with ";" in one -c');
  const command = text(flags, 'c');
  if (flags.c === true || command?.trim() === '') throw new UsageError('-c needs the commands to run: -c "CMD; CMD"');
  const { runShell } = await import('./shell/shell.js');
  const status = await runShell({
    address,
    caFile: text(flags, 'ca'),
    user: text(flags, 'user'),
    ...(command !== undefined ? { command } : {}),
    stopOnError: flags.e === true,
  });
  // Leave without waiting for stdin or timers the REPL may have touched; flush stdout first.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(status);
}

/** `dfs tui`: the full-screen explorer, logged in like the shell; its status is the exit code. */
async function runTuiCommand(address: string | undefined, flags: Flags): Promise<void> {
  cleanUpOnSignals();
  const { runTuiRole } = await import('./tui/run.js');
  const status = await runTuiRole({ address, caFile: text(flags, 'ca'), user: text(flags, 'user') });
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(status);
}

const SETTINGS_HELP = {
  title: 'Settings',
  body: [
    '  Every flag can also be set in the environment, as DFS_ and its name in capitals (--node-timeout is',
    '  DFS_NODE_TIMEOUT), or in the --config file, one "name = value" per line (node-timeout = 30; # starts a',
    '  comment). A flag beats the environment, which beats the file, which beats the default.',
  ].join('\n'),
};

function shellHelpSection(): { title: string; body: string } {
  return { title: 'Shell commands', body: commandList(SHELL_COMMANDS).trimEnd() };
}

function buildCli(): ReturnType<typeof cac> {
  const cli = cac('dfs');
  const master = cli
    .command('master', 'Run the metadata server (namespace, users, placement)')
    .option('--data <dir>', 'Directory for the catalog, the cluster CA and the join token (required)')
    .option('--listen <host:port>', `Address to listen on; port 0 picks a free port (default ${MASTER_LISTEN_DEFAULT})`)
    .option('--advertise <host:port>', 'Address clients and nodes use to reach this master')
    .option('--replicas <n>', `Copies kept of every file (default ${REPLICAS_DEFAULT})`)
    .option('--node-timeout <seconds>', `A node silent this long is dead (default ${NODE_TIMEOUT_S_DEFAULT})`)
    .option('--orphan-grace <seconds>', `Blobs no file needs that nodes report this soon after start are kept until then, for a catalog restored from a backup (default ${ORPHAN_GRACE_S_DEFAULT}; 0: deleted at once)`)
    .option('--metrics <host:port>', 'Serve /metrics (Prometheus) and /healthz here; off by default')
    .option('--log-level <level>', `Log this and worse: ${LOG_LEVELS.join(', ')} (default info; debug adds a line per blob copied or deleted)`)
    .option('--log-format <format>', 'text, or json: one {"time","role","level","message"} object per line (default text)')
    .option('--config <file>', 'Read settings from this file (env DFS_CONFIG); see "Settings" below')
    .example('dfs master --data /var/lib/dfs/master --listen 0.0.0.0:7070')
    .example('DFS_DATA=/var/lib/dfs/master dfs master --config /etc/dfs/master.conf')
    .action((flags: Flags) => runMaster(roleSettings(flags, master)));
  const node = cli
    .command('node', 'Run a storage node')
    .option('--master <host:port>', 'The master to join (required)')
    .option('--token <token>', 'Join token from the master\'s data dir, first start only (ps shows it to every user: prefer --token-file or DFS_TOKEN)')
    .option('--token-file <file>', 'Read the join token from a file')
    .option('--ca <file>', 'Verify the master with this CA certificate instead of the token\'s digest')
    .option('--data <dir>', 'Directory for blobs and this node\'s identity (required)')
    .option('--listen <host:port>', `Address to listen on; port 0 picks a free port (default ${NODE_LISTEN_DEFAULT})`)
    .option('--advertise <host:port>', 'Address other members use to reach this node')
    .option('--capacity <size>', 'Cap the space offered, e.g. 500G (default: the disk)')
    .option('--scrub-rate <size>', `Re-hash held blobs in the background at this many bytes a second, e.g. 32M; 0 turns the passes off, and only copies a reader found wrong are re-hashed (default ${formatSize(SCRUB_BYTES_PER_S_DEFAULT)})`)
    .option('--scrub-interval <seconds>', `Rest between two scrub passes over every blob (default ${SCRUB_INTERVAL_S_DEFAULT})`)
    .option('--metrics <host:port>', 'Serve /metrics (Prometheus) and /healthz here; off by default')
    .option('--log-level <level>', `Log this and worse: ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--log-format <format>', 'text, or json: one {"time","role","level","message"} object per line (default text)')
    .option('--config <file>', 'Read settings from this file (env DFS_CONFIG); see "Settings" below')
    .example('dfs node --master 10.0.0.1:7070 --token-file join-token --data /var/lib/dfs/node')
    .action((flags: Flags) => runNode(roleSettings(flags, node)));
  cli.command('version', 'Print the version').action(() => cli.outputVersion());
  cli
    .command('completion <shell>', 'Print a completion script for bash or zsh (roles, flags, shell commands)')
    .example('eval "$(dfs completion bash)"   # now; or save it: dfs completion bash > /etc/bash_completion.d/dfs')
    .example('eval "$(dfs completion zsh)"    # in ~/.zshrc, after compinit')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion: no script for "${shell}" (bash or zsh)`);
      const roles = cli.commands
        .filter((command) => command.name !== '' && command.name !== 'completion')
        .map((command) => ({ name: command.name, flags: command.options.flatMap((option) => option.rawName.split(/[\s,]+/).filter((word) => word.startsWith('-'))) }));
      process.stdout.write(completionScript(shell, roles, SHELL_COMMANDS.map((command) => command.name), { '--log-level': LOG_LEVELS, '--log-format': LOG_FORMATS }));
    });
  cli
    .command('demo', 'Start a master and nodes on this machine (loopback) and open the shell on them')
    .option('--nodes <n>', 'Number of storage nodes', { default: DEMO_NODES_DEFAULT })
    .option('--data <dir>', 'Where the demo keeps its data', { default: './dfs-demo' })
    .action((flags: Flags) => runDemo(flags));
  cli
    .command('shell [address]', 'Open a shell on the cluster (address HOST:PORT, else env DFS_MASTER)')
    .usage('shell [HOST:PORT] [--ca FILE] [--user NAME] [-e] [-c "CMD; CMD"]')
    .option('--ca <file>', 'Verify the master with this CA (ca.pem in its data dir; env DFS_CA); else trust on first use')
    .option('--user <name>', 'Log in as this user (env DFS_USER; default shared); password from env DFS_PASSWORD or a prompt')
    .option('-c <commands>', 'Run these commands (separated by ";") and exit; without -c, commands are read from stdin when it is not a terminal')
    .option('-e', 'Stop at the first command that fails and exit with its status (as sh -e), under -c or from stdin')
    .example('dfs shell 10.0.0.1:7070 --ca ca.pem -c "mkdir -p /docs; ls -l /"')
    .example('echo "du -sh /" | DFS_USER=alice DFS_PASSWORD=secret dfs shell 10.0.0.1:7070 --ca ca.pem')
    .action((address: string | undefined, flags: Flags) => runShellRole(address, flags));
  cli
    .command('tui [address]', 'Open the full-screen explorer and cluster dashboard (address HOST:PORT, else env DFS_MASTER)')
    .usage('tui [HOST:PORT] [--ca FILE] [--user NAME]')
    .option('--ca <file>', 'Verify the master with this CA (ca.pem in its data dir; env DFS_CA); else trust on first use')
    .option('--user <name>', 'Log in as this user (env DFS_USER; default shared); password from env DFS_PASSWORD or a prompt')
    .example('dfs tui 10.0.0.1:7070 --ca ca.pem --user alice')
    .action((address: string | undefined, flags: Flags) => runTuiCommand(address, flags));
  cli.help((sections) => {
    if (cli.matchedCommandName === 'shell') return [...sections, shellHelpSection()];
    if (cli.matchedCommandName === 'master' || cli.matchedCommandName === 'node') return [...sections, SETTINGS_HELP];
    return sections;
  });
  cli.version(VERSION);
  return cli;
}

async function main(): Promise<void> {
  const cli = buildCli();
  try {
    cli.parse(process.argv, { run: false });
    if (cli.options.version) {
      cli.outputVersion(); // `dfs ROLE --version` too, not only `dfs --version`
      return;
    }
    if (!cli.matchedCommand && cli.args.length > 0) throw new UsageError(`unknown command "${cli.args.join(' ')}"`);
    if (!cli.matchedCommand && !cli.options.help && !cli.options.version) {
      cli.outputHelp();
      process.exitCode = EXIT_USAGE;
      return;
    }
    await cli.runMatchedCommand();
  } catch (error) {
    reportAndExit(error);
  }
}

function reportAndExit(error: unknown): never {
  if (error instanceof UsageError || error instanceof ConfigError || (error instanceof Error && error.name === 'CACError')) {
    process.stderr.write(`dfs: ${error.message}\nRun "dfs --help" or "dfs COMMAND --help" for usage.\n`);
    process.exit(EXIT_USAGE);
  }
  if (error instanceof DfsError) {
    process.stderr.write(`dfs: ${error.message}\n`);
    process.exit(error.code === 'BAD_REQUEST' ? EXIT_USAGE : EXIT_FAILURE);
  }
  const system = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof system.code === 'string' && system.syscall !== undefined) {
    // A refusal by the operating system (missing file, port in use, permission): one line, no stack.
    process.stderr.write(`dfs: ${error.message}${SYSTEM_ERROR_HINTS[system.code] ?? ''}\n`);
    process.exit(EXIT_FAILURE);
  }
  process.stderr.write(`dfs: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(EXIT_FAILURE);
}

const SYSTEM_ERROR_HINTS: Record<string, string> = {
  EADDRINUSE: ' (another program has that port: pick another --listen, or port 0 for a free one)',
  EACCES: ' (permission denied: check the owner and mode of that path)',
};

void main();
