// Where a server role's settings come from, strongest first: its flag on the command line, its environment
// variable (DFS_ and the flag's name in capitals, "-" as "_": --node-timeout is DFS_NODE_TIMEOUT), the config file
// (--config FILE, or DFS_CONFIG), its default.
//
// The config file has one `name = value` per line, names as the flags' without "--" (`node-timeout = 30`); blank
// lines and lines starting with # are ignored, and one pair of quotes around a value is taken off. A name that is
// not one of the role's flags, or given twice, is an error naming the file and line.

import { readFileSync } from 'node:fs';

export class ConfigError extends Error {}

/** The environment variable of a flag: DFS_NODE_TIMEOUT for node-timeout. */
export function envName(flag: string): string {
  return `DFS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function parseConfig(text: string, file: string, known: readonly string[]): Map<string, string> {
  const settings = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const equals = line.indexOf('=');
    if (equals < 0) throw new ConfigError(`${where}: expected "name = value", got "${line}"`);
    const name = line.slice(0, equals).trim();
    let value = line.slice(equals + 1).trim();
    if (!known.includes(name)) throw new ConfigError(`${where}: unknown setting "${name}" (known: ${known.join(', ')})`);
    if (settings.has(name)) throw new ConfigError(`${where}: "${name}" is set twice`);
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    settings.set(name, value);
  });
  return settings;
}

/** The settings a role resolves its flags from: `flag(name)` is what the command line gave, if anything. */
export class Settings {
  private constructor(
    private readonly flag: (name: string) => string | undefined,
    /** Every setting the role has. */
    readonly names: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: ReadonlyMap<string, string>,
  ) {}

  static load(flag: (name: string) => string | undefined, known: readonly string[], env: NodeJS.ProcessEnv = process.env): Settings {
    const configFile = flag('config') ?? env[envName('config')];
    let file = new Map<string, string>();
    if (configFile !== undefined && configFile !== '') {
      let text: string;
      try {
        text = readFileSync(configFile, 'utf8');
      } catch (error) {
        throw new ConfigError(`cannot read the config file ${configFile}: ${(error as Error).message}`);
      }
      file = parseConfig(text, configFile, known);
    }
    return new Settings(flag, known, env, file);
  }

  /** The same flags and environment with the config file read again (SIGHUP). */
  reload(): Settings {
    return Settings.load(this.flag, this.names, this.env);
  }

  get(name: string): string | undefined {
    const fromEnv = this.env[envName(name)];
    return this.flag(name) ?? (fromEnv === '' ? undefined : fromEnv) ?? this.file.get(name);
  }
}
