"""The Explore filter's library: index text, and the mask a filter spec makes over a small uneven test set
whose expected masks are worked out by hand below."""

from __future__ import annotations

import numpy as np
import pytest

from vae.diagnostics.annotations import Annotations
from vae.diagnostics.filters import (
    FilterError,
    FilterSpec,
    OneOf,
    ValueRange,
    filter_mask,
    parse_indices,
    value_label,
    value_options,
)
from vae.diagnostics.metadata import read_metadata_csv

# Seven test images of three classes; the per-image values and codes are chosen by hand.
LABELS = np.array([0, 1, 2, 1, 0, 2, 1])
NEG_ELBO = np.array([100.0, 350.0, 290.0, 301.0, 500.0, 10.0, 300.0], dtype=np.float32)
MU = np.array([[1.0, 0.5], [0.0, -1.0], [2.0, 0.0], [-1.0, 2.0], [0.3, -0.1], [5.0, 3.0], [0.0, -2.0]],
              dtype=np.float32)
PER_IMAGE = {"neg_elbo": NEG_ELBO, "recon": NEG_ELBO - 1, "kl": np.ones(7, np.float32),
             "mean_sigma": np.ones(7, np.float32)}
METADATA = read_metadata_csv(b"site,index,age\nb,6,30\na,0,10\n=cmd(),2,\n", 7)
ANNOTATIONS = Annotations(selections={"left": np.array([0, 1, 2])},
                          tags={"odd": np.array([1, 3]), "edge": np.array([6])}, metadata=METADATA)


def mask(**spec) -> list[bool]:
    return filter_mask(FilterSpec(**spec), LABELS, MU, PER_IMAGE, ANNOTATIONS).tolist()


def test_index_text_takes_numbers_and_inclusive_ranges_in_any_order():
    assert parse_indices("12, 40-45", 50).tolist() == [12, 40, 41, 42, 43, 44, 45]
    assert parse_indices(" 6;1  3 - 4,1 ", 10).tolist() == [1, 3, 4, 6]
    assert parse_indices("9", 10).tolist() == [9]
    assert parse_indices("", 10) is None and parse_indices("  \n", 10) is None


@pytest.mark.parametrize("text, reason", [
    ("abc", "'abc' is not a test index or a range such as 40-45"),
    ("3, 1.5", "'1.5' is not a test index or a range such as 40-45"),
    ("-3", "'-3' is not a test index or a range such as 40-45"),
    ("8-4", "the range 8-4 runs backwards"),
    ("2, 10", "10 is not a test index: they run from 0 to 9"),
    ("1-12", "12 is not a test index: they run from 0 to 9"),
    ("1," * 6000, "the index text is longer than 10,000 characters"),
])
def test_bad_index_text_gets_one_line_saying_why(text, reason):
    with pytest.raises(FilterError) as caught:
        parse_indices(text, 10)
    assert str(caught.value) == reason


def test_an_empty_spec_keeps_every_image():
    assert FilterSpec().is_empty() and not FilterSpec(indices="3").is_empty()
    assert mask() == [True] * 7


def test_classes_keep_any_of_those_chosen():
    assert mask(classes=(1,)) == [False, True, False, True, False, False, True]
    assert mask(classes=(0, 2)) == [True, False, True, False, True, True, False]


def test_a_range_is_inclusive_at_both_ends_and_may_be_open():
    assert mask(ranges=(ValueRange("neg_elbo", low=300),)) == [False, True, False, True, True, False, True]
    assert mask(ranges=(ValueRange("neg_elbo", 100, 300),)) == [True, False, True, False, False, False, True]
    assert mask(ranges=(ValueRange("z1", high=0),)) == [False, True, True, False, True, False, True]


def test_every_kind_of_condition_applies_together():
    # class 1 (1, 3, 6) with −ELBO above 300 (1, 3, 4) and z0 at most 0 (1, 3, 6): images 1 and 3.
    spec = {"classes": (1,), "ranges": (ValueRange("neg_elbo", low=300.5), ValueRange("z0", high=0.0))}
    assert mask(**spec) == [False, True, False, True, False, False, False]
    assert mask(**spec, indices="3-6") == [False, False, False, True, False, False, False]


def test_index_text_tags_and_saved_selections_filter():
    assert mask(indices="0, 4-5") == [True, False, False, False, True, True, False]
    assert mask(tags=("odd", "edge")) == [False, True, False, True, False, False, True]
    assert mask(tags=("odd",), classes=(0,)) == [False] * 7
    assert mask(selections=("left",), tags=("odd",)) == [False, True, False, False, False, False, False]


def test_metadata_ranges_skip_images_without_a_row_and_text_columns_match_exactly():
    # age: image 6 is 30, image 0 is 10, image 2 has an empty cell; no other image has a row.
    assert mask(ranges=(ValueRange("meta:age", low=5),)) == [True, False, False, False, False, False, True]
    assert mask(ranges=(ValueRange("meta:age", high=20),)) == [True, False, False, False, False, False, False]
    assert mask(ranges=(ValueRange("meta:age"),)) == [True, False, False, False, False, False, True]
    assert mask(categories=(OneOf("meta:site", ("a", "=cmd()")),)) == [True, False, True, False, False, False, False]
    assert mask(categories=(OneOf("meta:site", ("",)),)) == [False, True, False, True, True, True, False]


@pytest.mark.parametrize("spec, reason", [
    ({"tags": ("nope",)}, "there is no tag named 'nope'"),
    ({"selections": ("gone",)}, "there is no saved selection named 'gone'"),
    ({"ranges": (ValueRange("meta:height", low=1),)}, "metadata: height is not available for this model"),
    ({"ranges": (ValueRange("z7", low=1),)}, "posterior mean of z7 is not available for this model"),
    ({"categories": (OneOf("meta:age", ("1",)),)}, "the metadata has no text column 'age'"),
])
def test_a_condition_on_what_is_not_there_says_so(spec, reason):
    with pytest.raises(FilterError) as caught:
        filter_mask(FilterSpec(**spec), LABELS, MU, PER_IMAGE, ANNOTATIONS)
    assert str(caught.value) == reason


def test_per_image_values_still_computing_cannot_be_filtered_on():
    with pytest.raises(FilterError, match="−ELBO is not available"):
        filter_mask(FilterSpec(ranges=(ValueRange("neg_elbo", low=1),)), LABELS, MU, None, ANNOTATIONS)


def test_the_values_a_range_can_be_over():
    assert value_options(2, None, Annotations()) == ["z0", "z1"]
    assert value_options(2, PER_IMAGE, ANNOTATIONS) == ["neg_elbo", "recon", "kl", "mean_sigma", "z0", "z1",
                                                        "meta:age"]
    assert [value_label(v) for v in ("neg_elbo", "z1", "meta:age")] == ["−ELBO", "posterior mean of z1",
                                                                        "metadata: age"]
