#!/bin/bash
# Every `mtlsca COMMAND ... --option` written in README.md and
# docs/README.ja.md (code blocks and inline code) names a command that
# exists and options that command's help lists (`mtlsca help COMMAND` and
# `mtlsca COMMAND --help`, stdout and stderr), or a global option of
# `mtlsca --help`. A renamed or removed option or command fails here with
# the file and line that still document it.
. "$(dirname "$0")/lib.sh"
tmpdir

"$PY" - "$MTLSCA" "$MTLSCA_SRC/README.md" "$MTLSCA_SRC/docs/README.ja.md" <<'PYEOF' ||
import re, subprocess, sys

mtlsca, docs = sys.argv[1], sys.argv[2:]

def run(*args):
    r = subprocess.run([mtlsca, *args], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr

rc, top = run("--help")
if rc != 0:
    sys.exit("mtlsca --help exited %d" % rc)
# The commands, from the "Commands:" list of the top-level help.
section = top.split("Commands:", 1)[1]
commands = set(re.findall(r"^  ([a-z][a-z0-9-]*)\s", section, re.M))
commands.add("help")
if len(commands) < 10:
    sys.exit("only %d commands in mtlsca --help" % len(commands))
helps = {}

def command_help(cmd):
    if cmd not in helps:
        text = ""
        for args in (("help", cmd), (cmd, "--help")):
            rc, out = run(*args)
            if rc == 0:
                text += out
        helps[cmd] = text
    return helps[cmd]

def has_option(text, opt):
    return re.search(r"(?<![A-Za-z0-9-])" + re.escape(opt) +
                     r"(?![A-Za-z0-9-])", text) is not None

# Code: fenced blocks and inline spans, with their line numbers.
def code_regions(text):
    fence = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
    spans = []
    for m in fence.finditer(text):
        spans.append((m.start(2), m.group(2)))
    rest = fence.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    # Indented blocks (4 spaces after a blank line) and inline `code`.
    for m in re.finditer(r"(?:(?<=\n\n)|(?<=\A))((?: {4}[^\n]*\n)+)", rest):
        spans.append((m.start(1), m.group(1)))
    for m in re.finditer(r"(`+)([^`]+?)\1", rest, re.S):
        spans.append((m.start(2), m.group(2)))
    return spans

GLOBAL_WITH_VALUE = ("--config", "--data-dir")
STOP = re.compile(r"^(\||\|\||;|&&|&|\)|#.*|[<>].*|\d?>.*|`)$")
uses = errors = 0
seen = {}
for doc in docs:
    text = open(doc, encoding="utf-8").read()
    for start, code in code_regions(text):
        # A continued line as one, offsets kept (for line numbers).
        joined = code.replace("\\\n", "  ")
        for m in re.finditer(r"(?:^|(?<=[\s(;|&/]))mtlsca(?=\s)", joined):
            line = text.count("\n", 0, start + m.start()) + 1
            where = "%s:%d" % (doc, line)
            before = joined[:m.start()].split()
            if before and before[-1] in GLOBAL_WITH_VALUE + ("-u",):
                continue	# a value: --data-dir /var/lib/mtlsca, -u mtlsca
            toks = joined[m.end():].split("\n", 1)[0].split()
            # Global options before the command.
            i = 0
            while i < len(toks) and toks[i] in GLOBAL_WITH_VALUE:
                if not has_option(top, toks[i]):
                    print("%s: global option %s is not in mtlsca --help"
                          % (where, toks[i]))
                    errors += 1
                i += 2
            if i >= len(toks):
                continue
            cmd = toks[i]
            if not re.fullmatch(r"[a-z][a-z0-9-]*", cmd):
                continue	# `mtlsca` as a word (a user, a unit name)
            if cmd not in commands:
                prev = joined[:m.start()].split()[-1:] or [""]
                # systemctl/journalctl/runuser/apt name the unit, user
                # or package "mtlsca"; prose uses it as a noun.
                if prev[0] in ("-u", "status", "enable", "restart", "stop",
                               "start", "reload", "edit", "purge",
                               "install", "security", "--now"):
                    continue
                print("%s: `mtlsca %s`: no such command in mtlsca --help"
                      % (where, cmd))
                errors += 1
                continue
            if cmd == "help":
                arg = toks[i + 1] if i + 1 < len(toks) else ""
                if re.fullmatch(r"[a-z][a-z0-9-]*", arg) and \
                        arg not in commands:
                    print("%s: mtlsca help %s: no such command" % (where, arg))
                    errors += 1
                continue
            helptext = command_help(cmd)
            if not helptext:
                print("%s: mtlsca help %s shows nothing" % (where, cmd))
                errors += 1
                continue
            for t in toks[i + 1:]:
                if STOP.match(t) or t in ("--", "--exec"):
                    break	# the shell's, or another program's
                t = t.strip("[]()'\",.:").split("=", 1)[0]
                if not re.fullmatch(r"--[a-z0-9][a-z0-9-]*", t):
                    continue
                uses += 1
                seen.setdefault(cmd, set()).add(t)
                if has_option(helptext, t):
                    continue
                if has_option(top.split("Commands:")[0], t):
                    continue	# a global option after the command
                print("%s: mtlsca %s %s: not in `mtlsca help %s`"
                      % (where, cmd, t, cmd))
                errors += 1
for cmd in sorted(seen):
    print("  mtlsca %s: %s" % (cmd, " ".join(sorted(seen[cmd]))))
print("checked %d documented options of %d commands in %s"
      % (uses, len(helps), " ".join(docs)))
if uses < 40:
    print("too few options found: the extraction is broken")
    errors += 1
sys.exit(1 if errors else 0)
PYEOF
	fail "documented options or commands that mtlsca lacks (above)"
