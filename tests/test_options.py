"""Option strings as a TMVA user writes them, and every mistake explained."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootgan import OptionError, RootganError
from rootgan.options import REQUIRED, Option, OptionSet, keywords_to_string

PHASE = OptionSet("TrainingStrategy", [
    Option("LearningRate", "float", 2e-4, "step size", minimum=0),
    Option("Optimizer", "enum", "ADAM", "update rule", allowed=("SGD", "ADAM", "RMSPROP")),
    Option("BatchSize", "int", 64, "images per step", minimum=1, per_part=False),
], prefixes=("Generator", "Discriminator"))

METHOD = OptionSet("GAN", [
    Option("H", "bool", False, "print this reference"),
    Option("V", "bool", False, "verbose"),
    Option("LatentDim", "int", 64, "noise size", minimum=1),
    Option("LeakyReluSlope", "float", 0.2, "slope"),
    Option("InputLayout", "string", REQUIRED, "image shape d|h|w"),
    Option("VarTransform", "enum", "None", "pixel transform", allowed=("None", "N", "Log")),
    Option("Scale", "float", [1.0, 1.0, 1.0], "per-axis scale", size=3),
    Option("Conditions", "list", [], "condition names"),
    Option("Scheduler", "string", "none", "Dask scheduler"),
    Option("TrainingStrategy", "phases", None, "training phases", phases=PHASE),
])


def parse(text="InputLayout=1|25|25", **keywords):
    return METHOD.parse(text, keywords)


def error(text, **keywords):
    with pytest.raises(OptionError) as info:
        parse(text, **keywords)
    assert isinstance(info.value, RootganError)
    return str(info.value)


def test_values_are_typed_and_defaults_fill_the_rest():
    options = parse("InputLayout=1|25|25:LatentDim=128:LeakyReluSlope=0.1:V")
    assert options["LatentDim"] == 128 and options["LeakyReluSlope"] == 0.1
    assert options["V"] is True and options["H"] is False
    assert options["VarTransform"] == "None"
    assert options.given == {"InputLayout", "LatentDim", "LeakyReluSlope", "V"}


def test_keys_are_case_insensitive_and_enum_values_are_normalised():
    options = parse("inputlayout=1|8|8:LATENTDIM=3:vartransform=log")
    assert options["LatentDim"] == 3 and options["VarTransform"] == "Log"


def test_bang_sets_a_boolean_false_and_explicit_values_work():
    assert parse("InputLayout=1|2|2:!V")["V"] is False
    assert parse("InputLayout=1|2|2:V=true")["V"] is True
    assert parse("InputLayout=1|2|2:V=False")["V"] is False


def test_array_elements_are_set_one_by_one():
    options = parse("InputLayout=1|2|2:Scale[1]=2.5:Scale[2]=4")
    assert options["Scale"] == [1.0, 2.5, 4.0]
    assert parse("InputLayout=1|2|2:Scale=1,2,3")["Scale"] == [1.0, 2.0, 3.0]


def test_lists_are_comma_separated():
    assert parse("InputLayout=1|2|2:Conditions=energy,label")["Conditions"] == ["energy", "label"]


def test_surrounding_whitespace_is_stripped():
    assert parse("  InputLayout = 1|2|2 : LatentDim=5  ")["LatentDim"] == 5


def test_quoted_values_may_contain_colons():
    assert parse('InputLayout=1|2|2:Scheduler="tcp://10.1.2.3:8786"')["Scheduler"] \
        == "tcp://10.1.2.3:8786"


def test_keyword_form_of_the_pythonization():
    assert keywords_to_string({"H": False, "V": True, "LatentDim": 64}) == "!H:V:LatentDim=64"
    options = parse("", InputLayout="1|25|25", H=False, LatentDim=32,
                    Scheduler="tcp://host:8786")
    assert options["LatentDim"] == 32 and options["Scheduler"] == "tcp://host:8786"


def test_training_strategy_phases_with_shared_and_per_network_keys():
    options = parse("InputLayout=1|2|2:TrainingStrategy=LearningRate=1e-3,Optimizer=sgd,"
                    "GeneratorLearningRate=5e-4|BatchSize=128")
    first, second = options["TrainingStrategy"]
    assert first["Optimizer"] == "SGD" and first["BatchSize"] == 64
    assert first.for_part("Generator")["LearningRate"] == 5e-4
    assert first.for_part("Discriminator")["LearningRate"] == 1e-3
    assert second["BatchSize"] == 128 and second["LearningRate"] == 2e-4


def test_default_training_strategy_is_one_phase_of_defaults():
    (phase,) = parse()["TrainingStrategy"]
    assert phase == {"LearningRate": 2e-4, "Optimizer": "ADAM", "BatchSize": 64}


def test_unknown_key_suggests_the_nearest_spelling_and_lists_known_keys():
    message = error("InputLayout=1|2|2:LatntDim=64")
    assert "unknown option 'LatntDim'" in message
    assert "did you mean LatentDim?" in message and "known options: H, V, LatentDim" in message


def test_unknown_keys_are_reported_before_missing_required_ones():
    message = error("LatntDim=64")
    assert "unknown option" in message and "required" not in message


def test_missing_required_option_is_named():
    assert "required option InputLayout not given" in error("LatentDim=3")


def test_bad_enum_value_lists_the_allowed_values():
    message = error("InputLayout=1|2|2:VarTransform=Lgo")
    assert "VarTransform=Lgo is not allowed; expected one of None, N, Log" in message
    assert "did you mean Log?" in message


@pytest.mark.parametrize("text,expected", [
    ("LatentDim=six", "LatentDim must be an integer, got 'six'"),
    ("LatentDim=0", "LatentDim must be >= 1, got 0"),
    ("LeakyReluSlope=abc", "LeakyReluSlope must be a number, got 'abc'"),
    ("LeakyReluSlope=nan", "must be a finite number"),
    ("V=maybe", "V is a boolean; got 'maybe'"),
    ("!LatentDim", "'!' applies to boolean options only; LatentDim expects integer"),
    ("LatentDim", "LatentDim needs a value"),
    ("!V=True", "combines '!' with a value"),
    ("LatentDim=", "LatentDim has an empty value"),
    ("LatentDim=6 4", "contains whitespace"),
    ("LatentDim=6:LATENTDIM=7", "option LatentDim is given twice"),
    ("Scale[1]=2:Scale[1]=3", "option Scale is given twice"),
    ("Scale=1,2,3:Scale[0]=3", "option Scale is given twice"),
    ("LatentDim[0]=1", "LatentDim is not an array option"),
    ("Scale[3]=1", "index 3 in 'Scale[3]=1' is out of range; Scale has elements 0 to 2"),
    ("Scale=1,2", "Scale takes 3 values separated by ','"),
    ("Conditions=a,,b", "empty element"),
    ("V::H", "empty entry at position 3"),
    ("V:", "empty entry at position 3"),
    ('Scheduler="tcp://host:1', "unbalanced double quote"),
    ("La-tent=3", "cannot read option entry"),
])
def test_every_mistake_is_an_option_error_that_says_what_is_wrong(text, expected):
    assert expected in error("InputLayout=1|2|2:" + text)


@pytest.mark.parametrize("strategy,expected", [
    ("BatchSze=32", "phase 1): unknown key 'BatchSze' (did you mean BatchSize?)"),
    ("BatchSize=32|Optimizer=ADMA", "phase 2): Optimizer=ADMA is not allowed"),
    ("BatchSize", "expected key=value, got 'BatchSize'"),
    ("BatchSize=3,BATCHSIZE=4", "BatchSize is given twice"),
    ("GeneratorBatchSize=3", "unknown key 'GeneratorBatchSize'"),
    ("BatchSize=3||BatchSize=4", "phase 2): the phase is empty"),
    ("LearningRate=-1", "LearningRate must be >= 0, got -1.0"),
])
def test_training_strategy_mistakes_name_the_phase_and_key(strategy, expected):
    assert expected in error("InputLayout=1|2|2:TrainingStrategy=" + strategy)


def test_option_string_must_be_text():
    with pytest.raises(OptionError, match="must be text, got int"):
        METHOD.parse(5)


def test_help_lists_every_option_with_type_default_and_meaning():
    text = METHOD.help_text()
    assert text.startswith("GAN options:")
    assert "LatentDim" in text and "integer" in text and "noise size" in text
    assert "one of None, N, Log" in text and "required" in text


def test_markdown_table_documents_every_option():
    table = METHOD.markdown_table()
    assert table.splitlines()[0] == "| option | type | default | meaning |"
    assert "| InputLayout | text | required | image shape d\\|h\\|w |" in table
    assert len(table.splitlines()) == 2 + len(METHOD.options)


# -- properties ------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_parser_raises_nothing_but_option_error_on_arbitrary_text(text):
    try:
        METHOD.parse(text)
    except OptionError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([":", "=", "!", "[", "]", "|", ",", '"', " ", "V", "H",
                                 "LatentDim", "Scale", "0", "1", "x", "TrainingStrategy",
                                 "BatchSize", "Generator", "InputLayout"]), max_size=20))
def test_parser_raises_nothing_but_option_error_on_option_like_text(pieces):
    try:
        METHOD.parse("".join(pieces))
    except OptionError:
        pass


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_|.-", min_size=1,
                 max_size=12)
_phase = st.fixed_dictionaries({
    "LearningRate": st.floats(0, 1, allow_nan=False),
    "Optimizer": st.sampled_from(["SGD", "ADAM", "RMSPROP"]),
    "BatchSize": st.integers(1, 4096),
})


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({
    "H": st.booleans(), "V": st.booleans(), "LatentDim": st.integers(1, 10_000),
    "LeakyReluSlope": st.floats(-1e6, 1e6, allow_nan=False),
    "InputLayout": _names, "VarTransform": st.sampled_from(["None", "N", "Log"]),
    "Scale": st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=3),
    "Conditions": st.lists(_names, min_size=1, max_size=3),
    "Scheduler": st.sampled_from(["none", "local", "tcp://10.0.0.1:8786"]),
    "TrainingStrategy": st.lists(_phase, min_size=1, max_size=3),
}))
def test_any_valid_option_set_round_trips_through_its_string(values):
    parsed = METHOD.parse(METHOD.format(values))
    assert dict(parsed) == values


def test_readme_documents_the_dataloader_options_as_declared():
    from pathlib import Path

    from rootgan.tmva.dataloader import prepare_options

    table = prepare_options(["<Class>"]).markdown_table()
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert table in readme, "README.md's DataLoader option table is stale; paste:\n" + table


def test_readme_documents_the_gan_options_as_declared():
    from pathlib import Path

    from rootgan.methods.base import COMMON_OPTIONS
    from rootgan.methods.gan import PHASE_OPTIONS, MethodGAN
    from rootgan.options import OptionSet

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for table in (OptionSet("GAN", list(COMMON_OPTIONS) + MethodGAN.declared_options())
                  .markdown_table(), PHASE_OPTIONS.markdown_table()):
        assert table in readme, "README.md's GAN option table is stale; paste:\n" + table
