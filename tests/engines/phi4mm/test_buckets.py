"""Grouping recordings into the decode loop's static shapes: every step lands on a warmed shape."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.phi4mm.buckets import BucketPlan, Need

PLAN = BucketPlan(batch_sizes=(1, 2, 4, 8, 16, 64), cache_tokens=64 * 1024, max_context=4096)

need = st.builds(Need, st.integers(20, 1500), st.integers(1, 512))
needs = st.integers(1, 2).flatmap(  # one or two turns, the same for every row
    lambda turns: st.lists(st.lists(need, min_size=turns, max_size=turns), min_size=1, max_size=150)
)


def test_windows_grow_finely_then_coarsely() -> None:
    windows = PLAN.windows
    assert windows[:3] == (64, 128, 192) and windows[-1] == 4096
    assert all(b - a <= max(64, a // 4) for a, b in itertools.pairwise(windows)), "at most a quarter unused"
    assert PLAN.window(65) == 128 and PLAN.window(513) == 640 and PLAN.window(1025) == 1280


def test_the_cache_is_shared_out_by_batch_size() -> None:
    assert PLAN.cache_length(64) == 1024
    assert PLAN.cache_length(16) == 4096 and PLAN.cache_length(1) == 4096
    assert (64, 1024) in PLAN.shapes() and (64, 1280) not in PLAN.shapes()
    assert PLAN.shapes()[0] == (64, 1024), "the largest shape is captured first"


@given(needs)
def test_every_group_fits_and_every_step_of_it_is_a_warmed_shape(rows: list[list[Need]]) -> None:
    groups, too_long = PLAN.split(rows)
    assert sorted([i for g in groups for i in g] + too_long) == list(range(len(rows)))
    assert [i for g in groups for i in g] == sorted(i for g in groups for i in g), "groups keep the given order"
    shapes = set(PLAN.shapes())
    for group in groups:
        size = PLAN.batch_size(len(group))
        for turn in range(len(rows[0])):
            prompt = max(rows[i][turn].prompt for i in group)
            budget = max(rows[i][turn].budget for i in group)
            # windows only grow, and every window up to the batch's cache length is a shape
            assert (size, PLAN.window(prompt + max(budget - 1, 1))) in shapes
    for index in too_long:
        assert not PLAN.fits([rows[index]])


def test_a_batch_is_cut_where_the_next_row_would_not_fit() -> None:
    short, long = [Need(300, 100)], [Need(1000, 200)]
    groups, too_long = PLAN.split([short] * 100 + [long] * 20)
    assert [len(g) for g in groups] == [64, 36, 16, 4] and too_long == []
    assert PLAN.split([[Need(4000, 200)]]) == ([], [0])


@pytest.mark.parametrize("sizes", [(), (0, 4), (8, 4)])
def test_bad_batch_sizes_are_refused(sizes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="batch sizes"):
        BucketPlan(sizes, 1024, 4096)


def test_a_cache_too_small_for_the_largest_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="no window"):
        BucketPlan((1, 256), 1024, 4096)


@given(
    st.lists(st.integers(1, 512), min_size=1, max_size=8, unique=True).map(sorted),
    st.integers(64 * 512, 1 << 20),
    st.integers(1, 4096),
)
def test_fitting_keeps_exactly_the_batch_sizes_a_context_fits(sizes: list[int], cache: int, context: int) -> None:
    plan = BucketPlan(tuple(sizes), cache, 4096)
    kept = [size for size in sizes if plan.cache_length(size) >= context]
    if not kept:
        with pytest.raises(ValueError, match="room for a context"):
            plan.fitting(context)
        return
    fitted = plan.fitting(context)
    assert fitted.batch_sizes == tuple(kept)
    assert all(fitted.cache_length(size) == plan.cache_length(size) for size in kept)


def test_the_default_cache_leaves_512_rows_too_little_for_a_real_context() -> None:
    plan = BucketPlan((1, 64, 128, 256, 512), 262144, 4096)
    assert plan.fitting(760).batch_sizes == (1, 64, 128, 256)
