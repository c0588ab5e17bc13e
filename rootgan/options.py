"""TMVA-style option strings: declared once per class, parsed, validated, printed, documented.

Grammar (tmva-conventions.md): entries separated by ``:``; ``Key=Value``; a bare ``Key``
sets a boolean true and ``!Key`` sets it false; ``Key[i]=v`` sets one element of an array
option; keys are case-insensitive; values from a fixed list match case-insensitively and are
normalised to the declared spelling. rootgan is stricter than TMVA: an unknown key, a bad
value, ``!`` on a non-boolean, a repeated key, whitespace inside a value and an empty entry
are all errors (``OptionError``) that name the option, the value, what is allowed and the
nearest valid spelling. A value that must contain ``:`` (a Dask scheduler address) is
written in double quotes.

A ``TrainingStrategy``-like option holds phases separated by ``|``, each a list of
``key=value`` pairs separated by ``,``, parsed against a nested declaration whose keys may
carry a prefix (``GeneratorLearningRate``) that overrides the unprefixed key for one part.
"""

import math
import re

from .errors import OptionError, did_you_mean

REQUIRED = object()  # default of an option that must be given

_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}
_ENTRY = re.compile(r"^(?P<bang>!?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>[^\]]*)\])?$")


class Option:
    """One declared option.

    ``kind`` is one of ``bool``, ``int``, ``float``, ``string``, ``enum``, ``list`` (comma
    separated values of ``element`` kind), ``phases`` (nested blocks, see ``phases``) or
    ``custom`` (``convert`` turns the text into a value or raises ValueError saying what is
    expected). ``size`` makes an option an array settable element-wise with ``Key[i]=v``.
    """

    KINDS = ("bool", "int", "float", "string", "enum", "list", "phases", "custom")

    def __init__(self, name, kind, default=None, help="", allowed=None, element="string",
                 size=None, phases=None, convert=None, minimum=None, expects=None,
                 per_part=True):
        if kind not in self.KINDS:
            raise ValueError(f"option kind must be one of {self.KINDS}, got {kind!r}")
        self.name = name
        self.kind = kind
        self.default = default
        self.help = help
        self.allowed = tuple(allowed) if allowed is not None else None
        self.element = element
        self.size = size
        self.phases = phases
        self.convert = convert
        self.minimum = minimum
        self.expects = expects
        self.per_part = per_part  # in a phase, may carry a part prefix (GeneratorX)

    @property
    def required(self):
        return self.default is REQUIRED

    def type_text(self):
        if self.kind == "enum":
            return "one of " + ", ".join(self.allowed)
        if self.kind == "list":
            return f"list of {self.element} (comma separated)"
        if self.kind == "phases":
            return "phases ('|' between phases, ',' between key=value pairs)"
        if self.kind == "custom":
            return self.expects or "text"
        text = {"bool": "bool", "int": "integer", "float": "number",
                "string": "text"}[self.kind]
        return f"{text}[{self.size}]" if self.size else text

    def default_text(self):
        if self.required:
            return "required"
        return format_value(self, _copy_default(self))


class Phases(list):
    """The parsed phases of a nested option: a list of dicts, one per phase."""


class Phase(dict):
    """One phase: canonical key -> value, prefixed overrides under the prefix name."""

    def for_part(self, prefix):
        """Values for one part (``Generator``): its prefixed keys override the shared ones."""
        values = {key: value for key, value in self.items() if not isinstance(value, dict)}
        values.update(self.get(prefix, {}))
        return values


class ParsedOptions(dict):
    """Canonical name -> value for every declared option; ``given`` holds those set."""

    def __init__(self, values, given):
        super().__init__(values)
        self.given = frozenset(given)


def keywords_to_string(keywords):
    """ROOT's pythonization: ``True`` -> ``K``, ``False`` -> ``!K``, else ``K=str(v)``."""
    entries = []
    for key, value in keywords.items():
        if value is True:
            entries.append(key)
        elif value is False:
            entries.append(f"!{key}")
        else:
            entries.append(f"{key}={_quote(str(value))}")
    return ":".join(entries)


def _quote(text):
    return f'"{text}"' if ":" in text else text


def _split_entries(text, where):
    """Split on ``:`` outside double quotes."""
    entries, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ":" and not quoted:
            entries.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise OptionError(f"{where}: unbalanced double quote in option string {text!r}")
    entries.append("".join(current))
    return entries


def format_value(option, value):
    """The option-string text of a parsed value (inverse of parsing)."""
    if value is None:  # an option whose default depends on others
        return "None"
    if option.kind == "bool":
        return "True" if value else "False"
    if option.kind == "list":
        return ",".join(format_value(Option("", option.element), v) for v in value)
    if option.size:
        return ",".join(format_value(Option("", option.kind), v) for v in value)
    if option.kind == "phases":
        return "|".join(option.phases.format_phase(phase) for phase in value)
    if option.kind == "float":
        return repr(float(value))
    return str(value)


class OptionSet:
    """The declared options of one class (``owner`` names it in messages)."""

    def __init__(self, owner, options, prefixes=()):
        self.owner = owner
        self.options = list(options)
        self.prefixes = tuple(prefixes)
        self._by_key = {o.name.lower(): o for o in self.options}
        if len(self._by_key) != len(self.options):
            raise ValueError(f"{owner}: two options share a name")

    # -- parsing -------------------------------------------------------------------------
    def parse(self, text="", keywords=None):
        """Parse ``text`` (and ROOT-style keyword arguments) into typed values."""
        if not isinstance(text, str):
            raise OptionError(f"{self.owner}: the option string must be text, got "
                              f"{type(text).__name__} {text!r}")
        parts = [text.strip()] if text.strip() else []
        if keywords:
            parts.append(keywords_to_string(keywords))
        entries = _split_entries(":".join(parts), self.owner) if parts else []
        assignments = [self._read_entry(entry, position, ":".join(parts))
                       for position, entry in enumerate(entries, 1)]

        unknown = [(key, entry) for key, entry, option, *_ in assignments if option is None]
        if unknown:
            key, entry = unknown[0]
            more = f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""
            raise OptionError(
                f"{self.owner}: unknown option {key!r} in {entry!r}{more}"
                f"{did_you_mean(key, [o.name for o in self.options])}; known options: "
                f"{', '.join(o.name for o in self.options)}"
            )

        values = {o.name: _copy_default(o) for o in self.options}
        seen = {}  # option name -> [(index, entry)] already given
        for _, entry, option, index, bang, raw in assignments:
            earlier = seen.setdefault(option.name, [])
            clash = [e for i, e in earlier if index is None or i is None or i == index]
            if clash:
                raise OptionError(f"{self.owner}: option {option.name} is given twice "
                                  f"({clash[0]!r} and {entry!r}); give it once")
            earlier.append((index, entry))
            if index is None:
                values[option.name] = self._value(option, bang, raw, entry)
            else:
                position = self._index(option, index, entry)
                values[option.name][position] = self._value(option, bang, raw, entry,
                                                             element=True)

        missing = [o.name for o in self.options if o.required and o.name not in seen]
        if missing:
            raise OptionError(f"{self.owner}: required option{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)} not given")
        return ParsedOptions(values, seen)

    def _read_entry(self, entry, position, text):
        stripped = entry.strip()
        if not stripped:
            raise OptionError(f"{self.owner}: empty entry at position {position} of {text!r} "
                              f"(two ':' in a row, or a ':' at either end)")
        key_text, has_value, raw = stripped.partition("=")
        key_text = key_text.strip()
        match = _ENTRY.match(key_text)
        if not match:
            raise OptionError(f"{self.owner}: cannot read option entry {stripped!r}; expected "
                              f"Key=Value, Key, !Key or Key[i]=Value")
        key = match["key"]
        option = self._by_key.get(key.lower())
        bang = bool(match["bang"])
        if has_value:
            raw = raw.strip()
            if bang:
                raise OptionError(f"{self.owner}: {stripped!r} combines '!' with a value; "
                                  f"write {key}=False or !{key}")
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                raw = raw[1:-1]
            elif re.search(r"\s", raw):
                raise OptionError(f"{self.owner}: the value of {key} contains whitespace "
                                  f"({raw!r}); remove it (TMVA would silently cut the value "
                                  f"at the first space)")
        else:
            raw = None
        return key, stripped, option, match["index"], bang, raw

    def _index(self, option, index_text, entry):
        if not option.size:
            raise OptionError(f"{self.owner}: {option.name} is not an array option, so "
                              f"{entry!r} cannot set one element; write {option.name}=value")
        try:
            index = int(index_text)
        except ValueError:
            raise OptionError(f"{self.owner}: the index in {entry!r} must be an integer") \
                from None
        if not 0 <= index < option.size:
            raise OptionError(f"{self.owner}: index {index} in {entry!r} is out of range; "
                              f"{option.name} has elements 0 to {option.size - 1}")
        return index

    def _value(self, option, bang, raw, entry, element=False):
        if raw is None:
            if option.kind != "bool":
                what = f"'!' applies to boolean options only; {option.name}" if bang else \
                    f"{option.name} needs a value:"
                raise OptionError(f"{self.owner}: {what} expects {option.type_text()} "
                                  f"(write {option.name}=...), got {entry!r}")
            return not bang
        if raw == "":
            raise OptionError(f"{self.owner}: {option.name} has an empty value in {entry!r}; "
                              f"expected {option.type_text()}")
        if option.size and not element:
            items = raw.split(",")
            if len(items) != option.size:
                raise OptionError(f"{self.owner}: {option.name} takes {option.size} values "
                                  f"separated by ',', got {len(items)} in {raw!r}; or set one "
                                  f"element with {option.name}[i]=value")
            return [self._convert(option, option.kind, item, entry) for item in items]
        return self._convert(option, option.kind, raw, entry)

    def _convert(self, option, kind, raw, entry):
        name = option.name
        if kind == "bool":
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise OptionError(f"{self.owner}: {name} is a boolean; got {raw!r}, expected True "
                              f"or False (or write {name} / !{name})")
        if kind in ("int", "float"):
            number, noun = (int, "an integer") if kind == "int" else (float, "a number")
            try:
                value = number(raw)
            except ValueError:
                raise OptionError(f"{self.owner}: {name} must be {noun}, got {raw!r}") from None
            if not math.isfinite(value):
                raise OptionError(f"{self.owner}: {name} must be a finite number, got {raw!r}")
            return self._check_minimum(option, value)
        if kind == "enum":
            for allowed in option.allowed:
                if raw.lower() == allowed.lower():
                    return allowed
            raise OptionError(f"{self.owner}: {name}={raw} is not allowed; expected one of "
                              f"{', '.join(option.allowed)}{did_you_mean(raw, option.allowed)}")
        if kind == "list":
            items = raw.split(",")
            if any(not item for item in items):
                raise OptionError(f"{self.owner}: {name} has an empty element in {raw!r}")
            element = Option(name, option.element, allowed=option.allowed,
                             minimum=option.minimum)
            return [self._convert(element, option.element, item, entry) for item in items]
        if kind == "phases":
            return option.phases.parse_phases(raw, name)
        if kind == "custom":
            try:
                return option.convert(raw)
            except ValueError as error:
                raise OptionError(f"{self.owner}: {name}={raw} is not valid: {error}") \
                    from None
        return raw

    def _check_minimum(self, option, value):
        if option.minimum is not None and value < option.minimum:
            raise OptionError(f"{self.owner}: {option.name} must be >= {option.minimum}, got "
                              f"{value}")
        return value

    # -- nested phases (TrainingStrategy) -----------------------------------------------
    def parse_phases(self, raw, name):
        phases = Phases()
        for number, block in enumerate(raw.split("|"), 1):
            where = f"{self.owner} ({name} phase {number})"
            if not block:
                raise OptionError(f"{where}: the phase is empty ('||' or a '|' at either end "
                                  f"of {raw!r})")
            phase = Phase({o.name: _copy_default(o) for o in self.options})
            seen = set()
            for pair in block.split(","):
                key, has_value, value = pair.partition("=")
                if not has_value or not key or not value:
                    raise OptionError(f"{where}: expected key=value, got {pair!r}; pairs are "
                                      f"separated by ','")
                prefix, option = self._phase_key(key, where)
                canonical = (prefix or "") + option.name
                if canonical.lower() in seen:
                    raise OptionError(f"{where}: {canonical} is given twice; give it once")
                seen.add(canonical.lower())
                parsed = OptionSet(where, [option])._convert(option, option.kind, value, pair)
                if prefix:
                    phase.setdefault(prefix, {})[option.name] = parsed
                else:
                    phase[option.name] = parsed
            phases.append(phase)
        return phases

    def _phase_key(self, key, where):
        option = self._by_key.get(key.lower())
        if option is not None:
            return None, option
        for prefix in self.prefixes:
            if key.lower().startswith(prefix.lower()):
                option = self._by_key.get(key[len(prefix):].lower())
                if option is not None and option.per_part:
                    return prefix, option
        names = [o.name for o in self.options]
        names += [p + o.name for p in self.prefixes for o in self.options]
        raise OptionError(f"{where}: unknown key {key!r}{did_you_mean(key, names)}; known keys: "
                          f"{', '.join(o.name for o in self.options)}"
                          + (f", each optionally prefixed by {' or '.join(self.prefixes)}"
                             if self.prefixes else ""))

    def format_phase(self, phase):
        pairs = []
        for option in self.options:
            pairs.append(f"{option.name}={format_value(option, phase[option.name])}")
            for prefix in self.prefixes:
                if option.name in phase.get(prefix, {}):
                    pairs.append(f"{prefix}{option.name}="
                                 f"{format_value(option, phase[prefix][option.name])}")
        return ",".join(pairs)

    # -- output --------------------------------------------------------------------------
    def format(self, values):
        """An option string that parses back to ``values``."""
        entries = []
        for option in self.options:
            value = values[option.name]
            if option.kind == "bool":
                entries.append(option.name if value else f"!{option.name}")
            elif value is not None:
                entries.append(f"{option.name}={_quote(format_value(option, value))}")
        return ":".join(entries)

    def help_text(self):
        """The ``H`` printout: every option with its type, default, allowed values, help."""
        rows = [(o.name, o.type_text(), o.default_text(), o.help) for o in self.options]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{self.owner} options:"]
        for name, kind, default, text in rows:
            lines.append(f"  {name.ljust(widths[0])}  {kind.ljust(widths[1])}  "
                         f"{default.ljust(widths[2])}  {text}")
        return "\n".join(lines)

    def markdown_table(self):
        lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
        for o in self.options:
            cells = [o.name, o.type_text(), o.default_text(), o.help]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)


def _copy_default(option):
    if option.required:
        return None
    if option.kind == "phases" and option.default is None:
        return Phases([Phase({o.name: _copy_default(o) for o in option.phases.options})])
    if isinstance(option.default, list):
        return list(option.default)
    return option.default
