"""The .mtp reader/writer: round trips, both radial_funcs_count layouts, motep interop, bad input,
fuzzing (truncated and mutated files raise InputError, never anything else)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdargy.errors import AlreadyDoneError, InputError
from mdargy.potentials.mtp.mtpfile import (
    MTPPotential,
    normalize_mtp_file,
    parse_mtp_text,
    read_mtp,
    write_mtp,
)

DATA = Path(__file__).parent / "data" / "mtp"
POT3 = DATA / "random_l10_CuPS.mtp"
POT2 = DATA / "random_l08_2sp.mtp"


def _same(a: MTPPotential, b: MTPPotential):
    for f in dataclasses.fields(MTPPotential):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb, f.name


def test_read_known_file():
    p = read_mtp(POT3)
    assert p.trained and p.species_count == 3 and p.cutoff == 4.5
    assert p.radial_coeffs.shape == (3, 3, p.radial_funcs_count, 8)
    assert p.alpha_index_basic_count == 25 and p.potential_tag == "species: Cu P S"


def test_round_trip_is_exact(tmp_path):
    p = read_mtp(POT3)
    write_mtp(tmp_path / "x.mtp", p)
    _same(p, read_mtp(tmp_path / "x.mtp"))


def test_radial_funcs_count_after_block_motep_layout():
    text = POT2.read_text()
    assert text.index("radial_coeffs") < text.index("radial_funcs_count")  # the motep layout
    p = read_mtp(POT2)
    assert p.radial_funcs_count == 2 and p.radial_coeffs.shape == (2, 2, 2, 8)
    assert p.scaling == 0.7


def test_motep_reads_our_files_and_we_read_motep_files(tmp_path):
    from motep.io.mlip.mtp import read_mtp as motep_read
    from motep.io.mlip.mtp import write_mtp as motep_write

    ours = read_mtp(POT3)
    write_mtp(tmp_path / "ours.mtp", ours)
    d = motep_read(tmp_path / "ours.mtp")
    np.testing.assert_array_equal(d.radial_coeffs, ours.radial_coeffs)
    np.testing.assert_array_equal(d.moment_coeffs, ours.moment_coeffs)
    np.testing.assert_array_equal(d.alpha_index_times, ours.alpha_index_times)
    # motep 0.2.0's default writer (min/max/size keys, radial_funcs_count after the block)
    motep_write(tmp_path / "motep.mtp", d)
    with pytest.raises(Exception):
        motep_read(tmp_path / "motep.mtp")  # motep cannot read its own file...
    back = read_mtp(tmp_path / "motep.mtp")  # ... we can
    np.testing.assert_allclose(back.radial_coeffs, ours.radial_coeffs, rtol=1e-14)
    np.testing.assert_allclose(back.moment_coeffs, ours.moment_coeffs, rtol=1e-14)
    assert back.min_dist == ours.min_dist and back.max_dist == ours.max_dist


def test_normalize_rewrites_in_mlip_order(tmp_path):
    out = normalize_mtp_file(POT2, tmp_path / "n.mtp")
    text = out.read_text()
    assert text.index("radial_funcs_count") < text.index("radial_coeffs")
    _same(read_mtp(POT2), read_mtp(out))
    with pytest.raises(AlreadyDoneError):
        normalize_mtp_file(POT2, out)


def test_untrained_template_reads_unless_training_required(tmp_path):
    from mdargy.potentials.mtp.templates import make_template

    write_mtp(tmp_path / "t.mtp", make_template(10, 2))
    t = read_mtp(tmp_path / "t.mtp")
    assert not t.trained
    with pytest.raises(InputError, match="untrained template"):
        read_mtp(tmp_path / "t.mtp", require_trained=True)


def _line_of(text, prefix):
    return next(i for i, l in enumerate(text.splitlines()) if l.lstrip().startswith(prefix)) + 1


BAD = [
    # (description, mutation, line prefix or None for end of file, message fragment)
    ("missing block", lambda t: re.sub(r"alpha_index_times = .*\n", "", t), None,
     "missing 'alpha_index_times'"),
    ("missing radial_coeffs pair", lambda t: t.replace("\t\t2-2\n", "\t\t2-3\n"), "\t\t2-3",
     "block '2-3' where '2-2' was expected"),
    ("wrong count", lambda t: t.replace("alpha_scalar_moments = 17", "alpha_scalar_moments = 16"),
     "alpha_moment_mapping", "alpha_moment_mapping has 17 entries but alpha_scalar_moments = 16"),
    ("non-numeric", lambda t: t.replace("moment_coeffs = {", "moment_coeffs = {1.0x, "),
     "moment_coeffs", "expected a number, got '1.0x'"),
    ("non-integer", lambda t: t.replace("species_count = 3", "species_count = three"),
     "species_count", "expected an integer, got 'three'"),
    ("version", lambda t: t.replace("version = 1.1.0", "version = 1.0.0"), "version",
     "unsupported version '1.0.0'"),
    ("radial basis", lambda t: t.replace("RBChebyshev", "RBPolynomial"), "radial_basis_type",
     "unsupported radial basis 'RBPolynomial'"),
    ("species coeffs count", lambda t: re.sub(r"species_coeffs = \{([^,]*),", "species_coeffs = {",
                                                t), "species_coeffs", "has 2 values, expected 3"),
    ("times index", lambda t: t.replace("alpha_index_times = {{0, 0, 1,", "alpha_index_times = {{0, 999, 1,"),
     "alpha_index_times =", "alpha_index_times row 0"),
    ("first line", lambda t: t.replace("MTP\n", "MPT\n", 1), "MPT", "expected 'MTP'"),
    ("unknown key", lambda t: t.replace("potential_name", "potential_nmae"), "potential_nmae",
     "unknown key 'potential_nmae'"),
]


@pytest.mark.parametrize("desc,mutate,prefix,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_line_problem(tmp_path, desc, mutate, prefix, fragment):
    text = mutate(POT3.read_text())
    assert text != POT3.read_text()
    path = tmp_path / "bad.mtp"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        read_mtp(path)
    line = len(text.splitlines()) if prefix is None else _line_of(text, prefix.strip())
    assert f"{path}:{line}: " in str(exc.value), str(exc.value)
    assert fragment in str(exc.value)


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_mtp(tmp_path / "missing.mtp")
    (tmp_path / "b.mtp").write_bytes(b"MTP\n\xff\xfe\x00")
    with pytest.raises(InputError, match="not a text file"):
        read_mtp(tmp_path / "b.mtp")


BASE_TEXT = POT2.read_text()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(BASE_TEXT)))
def test_fuzz_truncated(cut):
    text = BASE_TEXT[:cut]
    try:
        p = parse_mtp_text(text, path="trunc.mtp")
    except InputError as exc:
        assert str(exc).startswith("trunc.mtp")
    else:
        assert p.species_count == 2  # only a cut in trailing whitespace parses


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(BASE_TEXT) - 1),
                          st.sampled_from(list("0123456789{},.-+=eE \n\txMTP_"))),
                min_size=1, max_size=4))
def test_fuzz_mutated(edits):
    chars = list(BASE_TEXT)
    for pos, ch in edits:
        chars[pos] = ch
    try:
        p = parse_mtp_text("".join(chars), path="mut.mtp")
    except InputError as exc:
        assert str(exc).startswith("mut.mtp")
    else:
        assert p.problems() == []


def test_consistency_checks_on_construction():
    p = read_mtp(POT3)
    with pytest.raises(InputError, match="moment_coeffs has 3 values"):
        dataclasses.replace(p, moment_coeffs=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="min_dist < max_dist"):
        dataclasses.replace(p, min_dist=5.0)
