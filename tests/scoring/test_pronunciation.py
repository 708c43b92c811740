from scoring.alignment import Edit, Op
from scoring.pronunciation import WordErrorType, word_error_type


def _ops(*spec: tuple[Op, str | None, str | None]) -> list[Edit]:
    return [Edit(op, expected, actual, None, None) for op, expected, actual in spec]


def test_word_error_types_follow_what_was_heard() -> None:
    ok = _ops((Op.match, "B", "B"), (Op.match, "EH", "EH"))
    assert word_error_type(ok, 9.0) is WordErrorType.none
    assert word_error_type(ok, 4.0) is WordErrorType.mispronunciation
    assert (
        word_error_type(_ops((Op.match, "B", "B"), (Op.substitution, "EH", "AE")), 8.0)
        is WordErrorType.mispronunciation
    )
    assert word_error_type(_ops((Op.deletion, "B", None), (Op.deletion, "EH", None)), 2.0) is WordErrorType.omission
    assert word_error_type([*ok, *_ops((Op.insertion, None, "AH"))], 9.0) is WordErrorType.insertion
    assert word_error_type(ok, None) is WordErrorType.none
