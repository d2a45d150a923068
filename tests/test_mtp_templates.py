"""Untrained MTP templates generated from the definition: counts, levels, invariance,
independence, and interoperability with motep."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mdargy.errors import InputError
from mdargy.potentials.mtp.mtpfile import parse_mtp_text
from mdargy.potentials.mtp.templates import (
    MLIP_COUNTS,
    components,
    make_template,
    scalar_levels,
    template_counts,
)

#: What this generator produces (moments, basic, times, scalar); see the module docstring for
#: the comparison with MLIP's templates.
OURS = {8: (18, 11, 14, 9), 10: (42, 25, 43, 17), 12: (80, 46, 96, 31), 16: (286, 130, 573, 106)}


def scalars(pot, u, f):
    """Evaluate the scalar basis on one neighbourhood: unit vectors u (n,3), radial f (mu,n)."""
    m = np.zeros(pot.alpha_moments_count)
    for k, (mu, a, b, c) in enumerate(pot.alpha_index_basic):
        m[k] = np.sum(f[mu] * u[:, 0] ** a * u[:, 1] ** b * u[:, 2] ** c)
    for i1, i2, mult, i3 in pot.alpha_index_times:
        m[i3] += mult * m[i1] * m[i2]
    return m[pot.alpha_moment_mapping]


def random_env(rng, nmu, n=9):
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    return u, rng.uniform(-1, 1, (nmu, n))


@pytest.mark.parametrize("level", sorted(OURS))
def test_counts(level):
    c = template_counts(level)
    assert (c.moments, c.basic, c.times, c.scalar) == OURS[level]
    assert c.basic == MLIP_COUNTS[level][1]  # the basic moments agree with MLIP at every level


def test_level_08_identical_to_mlip_counts():
    assert OURS[8] == MLIP_COUNTS[8]


@pytest.mark.parametrize("level", [2, 4, 6, 8, 10, 12, 14, 16])
def test_basic_moments_follow_the_level_rule(level):
    """M_{mu,nu} (level 2+4mu+nu) appears iff some scalar of level <= L can use it."""
    pot = make_template(level, 1)
    used = {(int(r[0]), int(sum(r[1:]))) for r in pot.alpha_index_basic}
    for mu in range(8):
        for nu in range(12):
            lev = 2 + 4 * mu + nu
            expect = lev <= level if nu == 0 else lev + 2 + nu <= level
            assert ((mu, nu) in used) == expect, (mu, nu)
            if expect:
                rows = [tuple(r[1:]) for r in pot.alpha_index_basic if r[0] == mu and sum(r[1:]) == nu]
                assert rows == components(nu)
    levels = scalar_levels(level)
    assert max(levels) <= level and min(levels) == 2


@pytest.mark.parametrize("level", [8, 10, 12, 16])
def test_scalars_are_rotation_and_permutation_invariant(level):
    rng = np.random.default_rng(level)
    pot = make_template(level, 1)
    u, f = random_env(rng, pot.radial_funcs_count)
    b0 = scalars(pot, u, f)
    R = Rotation.random(random_state=level).as_matrix()
    perm = rng.permutation(len(u))
    b1 = scalars(pot, u[perm] @ R.T, f[:, perm])
    np.testing.assert_allclose(b1, b0, rtol=1e-9, atol=1e-12 * np.abs(b0).max())


@pytest.mark.parametrize("level", [10, 12])
def test_scalars_are_linearly_independent(level):
    rng = np.random.default_rng(7)
    pot = make_template(level, 1)
    rows = []
    for _ in range(4 * pot.alpha_scalar_moments):
        u, f = random_env(rng, pot.radial_funcs_count, n=int(rng.integers(2, 10)))
        v = scalars(pot, u, f)
        rows.append(v / np.linalg.norm(v))
    s = np.linalg.svd(np.array(rows), compute_uv=False)
    assert s[-1] > 1e-8 * s[0]


def test_times_are_in_dependency_order():
    pot = make_template(16, 1)
    done = set(range(pot.alpha_index_basic_count))
    last_write = {}
    for k, (i1, i2, _, i3) in enumerate(pot.alpha_index_times):
        assert i1 in done and i2 in done  # operands complete before use
        last_write[i3] = k
        done.add(i3)
    # a target is complete before it is used as an operand
    for k, (i1, i2, _, _) in enumerate(pot.alpha_index_times):
        for i in (i1, i2):
            assert last_write.get(i, -1) < k


def test_template_text_round_trip_and_motep_can_train_it(tmp_path):
    from motep.io.mlip.mtp import read_mtp as motep_read

    pot = make_template(10, 3, min_dist=1.8, max_dist=5.2, radial_basis_size=6)
    text = pot.to_text()
    back = parse_mtp_text(text)
    assert back.alpha_moments_count == pot.alpha_moments_count and not back.trained
    (tmp_path / "t.mtp").write_text(text)
    d = motep_read(tmp_path / "t.mtp")
    d.initialize(np.random.default_rng(0))
    assert d.radial_coeffs.shape == (3, 3, pot.radial_funcs_count, 6)
    assert d.moment_coeffs.shape == (pot.alpha_scalar_moments,)


@pytest.mark.parametrize("bad", [0, 1, 30, "10", 10.5])
def test_bad_level(bad):
    with pytest.raises(InputError):
        make_template(bad, 1)


def test_cli_template_check_normalize(tmp_path, capsys):
    from mdargy.cli import main
    from mdargy.potentials.mtp.mtpfile import read_mtp

    out = tmp_path / "u.mtp"
    assert main(["mtp", "template", "--level", "12", "--species", "Cu", "P", "S", "-o", str(out)]) == 0
    pot = read_mtp(out)
    assert pot.potential_tag == "species: Cu P S" and pot.alpha_scalar_moments == OURS[12][3]
    assert main(["mtp", "check", str(out)]) == 0
    assert "UNTRAINED" in capsys.readouterr().out
    assert main(["mtp", "template", "--level", "12", "--species", "Cu", "Cu", "-o",
                 str(tmp_path / "v.mtp")]) == 2  # InputError -> exit code 2, one line
    assert "lists an element twice" in capsys.readouterr().err
    assert main(["mtp", "counts", "--levels", "8"]) == 0
    assert "18/11/14/9" in capsys.readouterr().out
