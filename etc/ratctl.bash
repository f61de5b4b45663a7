# bash completion for ratctl(1): commands and options. Install as
# $(datadir)/bash-completion/completions/ratctl. Treaty ids are free text (whatever
# ratd.conf names), so none are offered: completion never talks to the daemon.

_ratctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds='status parties history refresh watch reload check version timeline metrics'
	local common='-s --socket -j --json -t --timeout'
	local i cmd='' extra=''

	COMPREPLY=()
	# "--socket=PATH": bash splits at '=', so the option is two words back.
	if [[ $prev == = && COMP_CWORD -ge 2 ]]; then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	elif [[ $cur == = ]]; then
		cur=''
	fi
	case $prev in
	-s|--socket)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--as-of)
		COMPREPLY=($(compgen -W "$(date -u +%Y-%m-%d)" -- "$cur"))
		return
		;;
	-t|--timeout|-n|--limit)
		return
		;;
	esac
	# The command is the first word that is neither an option nor an option's argument.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s|--socket|-t|--timeout|-n|--limit|--as-of)
			[[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
			((i++))
			;;
		-*|=)
			;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$common -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	status) extra='--as-of' ;;
	timeline) extra='--as-of --svg' ;;
	parties) extra='--as-of --pending --notes' ;;
	history) extra='-n --limit' ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$common $extra" -- "$cur"))
	fi
}
complete -F _ratctl ratctl
