"""Where an answer ends: its end token, the brace that closes its object, or its budget."""

from engines.phi4mm.stopping import StopRule


class Vocabulary:
    """The little of a tokenizer that the stop rule reads."""

    tokens = ("<|endoftext|>", "<|end|>", "{", '{"', "}", '"}', "}}", "a", " 8", '{"a": {}}')
    eos_token_id = 0
    pad_token_id = 0

    def get_vocab(self) -> dict[str, int]:
        return {token: index for index, token in enumerate(self.tokens)}

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.tokens.index(token)

    def __len__(self) -> int:
        return len(self.tokens)


RULE = StopRule(Vocabulary(), vocab_size=12)
END, OPEN, OPEN_QUOTE, CLOSE, QUOTE_CLOSE, CLOSE_TWO, A, EIGHT, BALANCED = range(1, 10)


def test_brace_deltas_count_what_each_token_opens_and_closes() -> None:
    assert RULE.brace_deltas[:10] == [0, 0, 1, 1, -1, -1, -2, 0, 0, 0]
    assert RULE.brace_deltas[10:] == [0, 0], "ids past the tokenizer (padded vocabulary) change nothing"
    assert RULE.stop_ids == [0, 1]


def test_an_answer_ends_at_the_brace_that_closes_its_object() -> None:
    tokens = [A, OPEN_QUOTE, EIGHT, OPEN, CLOSE, EIGHT, QUOTE_CLOSE, A, A]
    assert RULE.answer(tokens, 20, braces=True) == tokens[:7]
    assert RULE.answer([OPEN, OPEN, CLOSE_TWO, A], 20, braces=True) == [OPEN, OPEN, CLOSE_TWO]


def test_a_closing_brace_before_any_opening_one_ends_nothing() -> None:
    assert RULE.answer([CLOSE, A, BALANCED, A], 4, braces=True) == [CLOSE, A, BALANCED, A]


def test_end_tokens_and_budgets_end_answers_and_braces_only_when_asked() -> None:
    assert RULE.answer([A, EIGHT, END, A], 10, braces=True) == [A, EIGHT, END]
    assert RULE.answer([OPEN, A, A, A, A], 3, braces=True) == [OPEN, A, A]
    assert RULE.answer([OPEN, CLOSE, A, 0, A], 10, braces=False) == [OPEN, CLOSE, A, 0]
