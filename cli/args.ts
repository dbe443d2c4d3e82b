import { flagName, SETTING_NAMES, type SettingName } from '../core/config.js';

export interface ParsedArgs {
  positionals: string[];
  /** Flags that are hookline settings (`--nats-url` → natsUrl). */
  settings: Partial<Record<SettingName, string>>;
  /** Every other flag; repeated flags keep every value. */
  flags: Map<string, string[]>;
}

const SETTING_BY_FLAG = new Map(SETTING_NAMES.map((n) => [flagName(n), n]));
const BOOLEAN_FLAGS = new Set(['help', 'sidecar', 'stdin', 'json', 'backlog']);

/** `--name value`, `--name=value`, and bare boolean flags. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], settings: {}, flags: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (BOOLEAN_FLAGS.has(name)) value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new Error(`--${name} needs a value`);
      value = next;
      i++;
    }
    // `endpoints create --url` is the endpoint's URL (the contract's CLI); the registry's
    // address is then given as --api-url or HOOKLINE_URL.
    const setting =
      name === 'api-url'
        ? 'url'
        : name === 'url' && out.positionals[0] === 'endpoints'
          ? undefined
          : SETTING_BY_FLAG.get(name);
    if (setting) out.settings[setting] = value;
    else out.flags.set(name, [...(out.flags.get(name) ?? []), value]);
  }
  return out;
}

export function flag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return v?.[v.length - 1];
}
