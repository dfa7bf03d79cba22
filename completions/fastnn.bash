# bash completion for fastnn. Commands and flags are read from the
# installed tool's own --help output, so they always match its version.
# Installed as share/bash-completion/completions/fastnn.

_fastnn_commands() {
    "$1" --help 2>/dev/null |
        awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'
}

# Prints "--flag METAVAR" (METAVAR empty for a switch) for each option of
# the command words after the executable.
_fastnn_options() {
    "$1" "${@:2}" --help 2>/dev/null |
        awk '/^  --[a-z]/ { m = ($2 ~ /^[A-Z|]+$/) ? $2 : ""; print $1, m }'
}

_fastnn() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD - 1]}
    local exe=${COMP_WORDS[0]}
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$(_fastnn_commands "$exe") --help --version" \
            -- "$cur"))
        return
    fi
    local command=${COMP_WORDS[1]}
    if [ "$command" = study ]; then
        # study takes its kind first; each kind has its own options.
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "normalization init --help" -- "$cur"))
            return
        fi
        command="study ${COMP_WORDS[2]}"
    fi
    local options
    # shellcheck disable=SC2086
    options=$(_fastnn_options "$exe" $command)
    local metavar
    metavar=$(awk -v f="$prev" '$1 == f { print $2 }' <<<"$options")
    local choices=""
    case "$prev" in
        --activation) choices="relu leaky_relu tanh sigmoid identity" ;;
        --init) choices="auto he he-uniform xavier xavier-uniform lecun small
                         normal zeros" ;;
        --loss) choices="auto softmax sigmoid mse" ;;
        --optimizer) choices="sgd momentum adam" ;;
        --lr-schedule) choices="constant step cosine" ;;
    esac
    if [ -n "$choices" ]; then
        COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    elif [ "$metavar" = FILE ] || [ "$metavar" = PATH ]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [ -n "$metavar" ]; then
        return # a number or a list: nothing to propose
    else
        COMPREPLY=($(compgen -W "$(awk '{ print $1 }' <<<"$options")" \
            -- "$cur"))
    fi
}

complete -F _fastnn fastnn
