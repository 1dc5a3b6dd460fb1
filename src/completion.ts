// `dfs completion bash|zsh`: a completion script made from the command line's own definitions (roles and their
// flags, as cac knows them) and the shell's command table, so it never falls out of step with either. zsh gets the
// same function through bashcompinit, as many tools ship theirs.

/** A role as the script needs it: its name and its flags, with which of them take a file or a fixed word. */
export interface CompletionRole {
  name: string;
  flags: readonly string[];
}

/** Flags whose value is a path on this machine. */
const PATH_FLAGS = ['--data', '--ca', '--token-file', '--config'];

const shellWords = (words: readonly string[]): string => words.join(' ').replace(/[^\w .,:@/+=-]/g, '');

export function completionScript(shell: 'bash' | 'zsh', roles: readonly CompletionRole[], shellCommands: readonly string[], fixedValues: Readonly<Record<string, readonly string[]>>): string {
  const cases = roles
    .map((role) => `    ${role.name}) flags="${shellWords([...role.flags, '--help'])}" ;;`)
    .join('\n');
  const values = Object.entries(fixedValues)
    .map(([flag, words]) => `    ${flag}) COMPREPLY=( $(compgen -W "${shellWords(words)}" -- "$cur") ); return ;;`)
    .join('\n');
  const body = `_dfs() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${shellWords([...roles.map((role) => role.name), 'completion', '--help', '--version'])}" -- "$cur") )
    return
  fi
  case "$prev" in
    ${PATH_FLAGS.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -c) COMPREPLY=( $(compgen -W "${shellWords(shellCommands)}" -- "$cur") ); return ;;
${values}
  esac
  case "\${COMP_WORDS[1]}" in
${cases}
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  fi
}
complete -o default -F _dfs dfs
`;
  if (shell === 'bash') {
    return `# dfs completion for bash. Load it now: eval "$(dfs completion bash)"\n# or for every session: dfs completion bash > /etc/bash_completion.d/dfs\n${body}`;
  }
  return `# dfs completion for zsh. Load it in ~/.zshrc (after compinit): eval "$(dfs completion zsh)"\nautoload -U +X bashcompinit && bashcompinit\n${body}`;
}
