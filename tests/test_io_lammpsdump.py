"""The native LAMMPS text-dump reader on dumps with known contents.

Each dump is written here from a known unwrapped random walk, in the layouts LAMMPS produces:
columns in any order, atoms shuffled, wrapped coordinates with and without image flags, scaled
coordinates, triclinic boxes, truncated last frames, and damaged files.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.io.lammpsdump import available_engines, dump_frame_text, read_lammps_dump

ENGINES = available_engines()
N_ATOMS, N_FRAMES = 23, 12


def _walk(seed=3, n_frames=N_FRAMES, n_atoms=N_ATOMS, step=0.6):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 9, size=(n_atoms, 3))
    return start + np.cumsum(rng.normal(scale=step, size=(n_frames, n_atoms, 3)), axis=0)


ORTHO = (np.diag([9.0, 10.0, 11.0]), np.array([-1.0, 0.5, 0.0]))
TRICLINIC = (np.array([[9.0, 0.0, 0.0], [1.5, 10.0, 0.0], [-0.7, 0.9, 11.0]]),
             np.array([0.0, -2.0, 1.0]))


def _wrap(truth, box, origin):
    frac = (truth - origin) @ np.linalg.inv(box)
    img = np.floor(frac)
    return origin + (frac - img) @ box, frac - img, img


def _bounds(box, origin):
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = box
    xlo, ylo, zlo = origin
    if xy == 0 and xz == 0 and yz == 0:
        return "pp pp pp", [(xlo, xlo + lx), (ylo, ylo + ly), (zlo, zlo + lz)]
    xhi = xlo + lx
    rows = [(xlo + min(0, xy, xz, xy + xz), xhi + max(0, xy, xz, xy + xz), xy),
            (ylo + min(0, yz), ylo + ly + max(0, yz), xz),
            (zlo, zlo + lz, yz)]
    return "xy xz yz pp pp pp", rows


def write_dump(path, columns, values, *, steps=None, box=ORTHO, shuffle_seed=None,
               time_ps=None, units=None, fmt="{:.17g}", sep=" ", ids=None, types=None,
               elements=None):
    """Write a dump; ``values`` maps column name -> (n_frames, n_atoms) array."""
    n_frames, n_atoms = next(iter(values.values())).shape
    ids = np.arange(1, n_atoms + 1) if ids is None else ids
    types = (np.arange(n_atoms) % 3) + 1 if types is None else types
    steps = np.arange(n_frames) * 50 if steps is None else steps
    rng = np.random.default_rng(shuffle_seed)
    kind, rows = _bounds(*box)
    out = []
    for f in range(n_frames):
        if units:
            out.append(f"ITEM: UNITS\n{units}\n")
        if time_ps is not None:
            out.append(f"ITEM: TIME\n{float(time_ps[f])!r}\n")
        out.append(f"ITEM: TIMESTEP\n{steps[f]}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n")
        out.append(f"ITEM: BOX BOUNDS {kind}\n")
        out.extend(" ".join(repr(float(v)) for v in r) + "\n" for r in rows)
        out.append("ITEM: ATOMS " + " ".join(columns) + "\n")
        order = rng.permutation(n_atoms) if shuffle_seed is not None else np.arange(n_atoms)
        for a in order:
            cells = []
            for c in columns:
                if c == "id":
                    cells.append(str(ids[a]))
                elif c == "type":
                    cells.append(str(types[a]))
                elif c == "element":
                    cells.append(elements[a])
                elif c in ("ix", "iy", "iz"):
                    cells.append(str(int(values[c][f, a])))
                else:
                    cells.append(fmt.format(values[c][f, a]))
            out.append(sep.join(cells) + "\n")
    path.write_text("".join(out))
    return path


def _cols(arr, names):
    return {n: arr[..., i] for i, n in enumerate(names)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("columns", [
    ("id", "type", "xu", "yu", "zu", "vx", "vy", "vz"),
    ("vz", "xu", "type", "c_pe", "id", "yu", "vx", "zu", "vy"),
    ("zu", "yu", "xu", "id", "q", "type"),
])
def test_any_column_order_and_shuffled_atoms(tmp_path, engine, columns):
    truth = _walk()
    vel = np.random.default_rng(9).normal(size=truth.shape)
    vals = {**_cols(truth, ("xu", "yu", "zu")), **_cols(vel, ("vx", "vy", "vz")),
            "c_pe": -np.ones(truth.shape[:2]), "q": np.zeros(truth.shape[:2])}
    path = write_dump(tmp_path / "a.dump", columns, vals, shuffle_seed=5)
    d = read_lammps_dump(path, engine=engine, chunk_bytes=3000)  # several chunks
    assert d.engine == engine and d.coordinate_kind == "unwrapped"
    assert np.array_equal(d.positions, truth)
    if "vx" in columns:
        assert np.array_equal(d.velocities, vel)
    else:
        assert d.velocities is None
    assert np.array_equal(d.ids, np.arange(1, N_ATOMS + 1))
    assert np.array_equal(d.types, np.arange(N_ATOMS) % 3 + 1)
    assert np.array_equal(d.steps, np.arange(N_FRAMES) * 50)
    assert np.array_equal(d.box_A, ORTHO[0]) and d.warnings == ()


def test_engines_agree_on_lammps_default_number_format(tmp_path):
    truth = _walk()
    vals = _cols(truth, ("xu", "yu", "zu"))
    path = write_dump(tmp_path / "g.dump", ("id", "type", "xu", "yu", "zu"), vals,
                      fmt="{:g}", shuffle_seed=2)
    results = [read_lammps_dump(path, engine=e).positions for e in ENGINES]
    for r in results:
        np.testing.assert_allclose(r, truth, atol=5e-5 * 20)  # %g keeps 6 significant digits
        assert np.array_equal(r, results[0])


def test_padded_whitespace_columns(tmp_path):
    truth = _walk()
    path = write_dump(tmp_path / "pad.dump", ("id", "type", "xu", "yu", "zu"),
                      _cols(truth, ("xu", "yu", "zu")), fmt="{:>24.17g}", sep="  ")
    for e in ENGINES:
        assert np.array_equal(read_lammps_dump(path, engine=e).positions, truth)


def test_sparse_atom_ids(tmp_path):
    truth = _walk()
    ids = np.arange(N_ATOMS) * 7 + 100
    path = write_dump(tmp_path / "ids.dump", ("id", "type", "xu", "yu", "zu"),
                      _cols(truth, ("xu", "yu", "zu")), ids=ids, shuffle_seed=1)
    d = read_lammps_dump(path)
    assert np.array_equal(d.ids, ids) and np.array_equal(d.positions, truth)


@pytest.mark.parametrize("box", [ORTHO, TRICLINIC], ids=["orthogonal", "triclinic"])
def test_image_flags_are_unwrapped(tmp_path, box):
    truth = _walk(step=2.5)  # atoms cross the boundaries many times
    wrapped, frac, img = _wrap(truth, *box)
    assert np.abs(img).max() >= 2
    vals = {**_cols(wrapped, ("x", "y", "z")), **_cols(img, ("ix", "iy", "iz")),
            **_cols(frac, ("xs", "ys", "zs"))}
    for cols, kind in [(("id", "type", "x", "y", "z", "ix", "iy", "iz"), "wrapped+images"),
                       (("ix", "xs", "iz", "id", "ys", "type", "zs", "iy"), "scaled+images")]:
        d = read_lammps_dump(write_dump(tmp_path / f"{kind}.dump", cols, vals, box=box,
                                        shuffle_seed=4))
        assert d.coordinate_kind == kind
        np.testing.assert_allclose(d.positions, truth, rtol=0, atol=1e-11)
        np.testing.assert_allclose(d.box_A, box[0], atol=1e-12)
        np.testing.assert_allclose(d.origin_A, box[1], atol=1e-12)


def test_scaled_unwrapped_triclinic(tmp_path):
    truth = _walk(step=2.0)
    box, origin = TRICLINIC
    su = (truth - origin) @ np.linalg.inv(box)
    d = read_lammps_dump(write_dump(tmp_path / "su.dump", ("id", "xsu", "ysu", "zsu"),
                                    _cols(su, ("xsu", "ysu", "zsu")), box=TRICLINIC))
    assert d.coordinate_kind == "scaled_unwrapped" and d.types is None
    np.testing.assert_allclose(d.positions, truth, rtol=0, atol=1e-11)


@pytest.mark.parametrize("box", [ORTHO, TRICLINIC], ids=["orthogonal", "triclinic"])
def test_wrapped_without_images_unwrapped_by_continuity(tmp_path, box):
    truth = _walk(step=0.8)  # < half a box between frames
    wrapped, _, img = _wrap(truth, *box)
    assert np.any(img[-1] != img[0])
    path = write_dump(tmp_path / "w.dump", ("id", "type", "x", "y", "z"),
                      _cols(wrapped, ("x", "y", "z")), box=box)
    with pytest.warns(UserWarning, match="continuity"):
        d = read_lammps_dump(path)
    assert d.coordinate_kind == "wrapped (continuity)"
    assert any("continuity" in w for w in d.warnings)
    # the unwrapped trajectory starts from the first (wrapped) frame
    expected = truth - (img[0] @ box[0])[None]
    np.testing.assert_allclose(d.positions, expected, rtol=0, atol=1e-10)
    with pytest.raises(InputError, match="image flags"):
        read_lammps_dump(path, continuity_unwrap=False)


def _ten_frames(tmp_path, name="t.dump"):
    truth = _walk(n_frames=10)
    return truth, write_dump(tmp_path / name, ("id", "type", "xu", "yu", "zu"),
                             _cols(truth, ("xu", "yu", "zu")))


@pytest.mark.parametrize("cut", ["mid_line", "after_atoms_header", "mid_header", "line_short"])
def test_truncated_last_frame_warns_and_keeps_complete_frames(tmp_path, cut):
    truth, path = _ten_frames(tmp_path)
    text = path.read_text()
    last = text.rindex("ITEM: TIMESTEP")
    if cut == "mid_line":
        text = text[:text.rindex("\n", 0, len(text) - 1) + 8]
    elif cut == "after_atoms_header":
        text = text[:text.index("\n", text.rindex("ITEM: ATOMS")) + 1]
    elif cut == "mid_header":
        text = text[:last + 30]
    else:  # last line cut before its newline
        text = text[:-3]
    path.write_text(text)
    for e in ENGINES:
        with pytest.warns(UserWarning, match="truncated"):
            d = read_lammps_dump(path, engine=e)
        assert d.n_frames == 9 and np.array_equal(d.positions, truth[:9])
        assert len(d.warnings) == 1 and str(path) in d.warnings[0]


def test_element_and_mass_columns(tmp_path):
    truth = _walk()
    elements = np.array(["Cu", "P", "S"])[np.arange(N_ATOMS) % 3]
    vals = {**_cols(truth, ("xu", "yu", "zu")), "mass": np.tile([63.546, 30.974, 32.06] * 8,
                                                               (N_FRAMES, 1))[:, :N_ATOMS]}
    path = write_dump(tmp_path / "el.dump", ("id", "element", "xu", "yu", "zu", "mass"), vals,
                      elements=elements, shuffle_seed=8)
    for e in ENGINES:
        d = read_lammps_dump(path, engine=e)
        assert list(d.elements) == list(elements)
        assert np.array_equal(d.masses, vals["mass"][0])
        assert np.array_equal(d.positions, truth)


def test_time_and_real_units_are_converted_to_metal(tmp_path):
    truth = _walk()
    vel = np.ones_like(truth) * 0.005  # Å/fs in real units
    path = write_dump(tmp_path / "real.dump", ("id", "type", "xu", "yu", "zu", "vx", "vy", "vz"),
                      {**_cols(truth, ("xu", "yu", "zu")), **_cols(vel, ("vx", "vy", "vz"))},
                      time_ps=np.arange(N_FRAMES) * 25.0, units="real")
    d = read_lammps_dump(path)
    assert d.units == "metal (converted from real)"
    np.testing.assert_allclose(d.velocities, 5.0)  # Å/ps
    np.testing.assert_allclose(d.times_ps, np.arange(N_FRAMES) * 0.025)
    path.write_text(path.read_text().replace("real", "lj"))
    with pytest.raises(InputError, match="units 'lj'"):
        read_lammps_dump(path)


def test_units_option_for_dumps_without_units(tmp_path):
    """A real-units dump without ITEM: UNITS: converted when units="real" is given; a dump
    that names its units must agree with the option."""
    truth = _walk()
    vel = np.ones_like(truth) * 0.005
    cols = ("id", "type", "xu", "yu", "zu", "vx", "vy", "vz")
    vals = {**_cols(truth, ("xu", "yu", "zu")), **_cols(vel, ("vx", "vy", "vz"))}
    path = write_dump(tmp_path / "r.dump", cols, vals, time_ps=np.arange(N_FRAMES) * 25.0)
    assert read_lammps_dump(path).units == "metal (assumed)"
    d = read_lammps_dump(path, units="real")
    assert d.units == "metal (converted from real) (given)"
    np.testing.assert_allclose(d.velocities, 5.0)
    np.testing.assert_allclose(d.times_ps, np.arange(N_FRAMES) * 0.025)
    assert read_lammps_dump(path, units="metal").units == "metal (given)"
    named = write_dump(tmp_path / "m.dump", cols, vals, units="metal")
    with pytest.raises(InputError, match="ITEM: UNITS metal but units 'real'"):
        read_lammps_dump(named, units="real")
    with pytest.raises(InputError, match="units 'lj'"):
        read_lammps_dump(path, units="lj")


def test_gzip_dumps_read_like_plain_ones(tmp_path):
    import gzip

    from mdargy.io.trajectory import detect_format, load_trajectory

    truth = _walk()
    plain = write_dump(tmp_path / "t.lammpstrj", ("id", "type", "xu", "yu", "zu"),
                       _cols(truth, ("xu", "yu", "zu")), shuffle_seed=2)
    gz = tmp_path / "t.lammpstrj.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    for e in ENGINES:
        assert np.array_equal(read_lammps_dump(gz, engine=e).positions, truth)
    assert detect_format(gz) == "lammpsdump"
    t = load_trajectory(gz, types="1=Cu,2=P,3=S", timestep_fs=1.0)
    assert np.array_equal(t.positions, truth) and t.dt_ps == pytest.approx(0.05)
    gz.write_bytes(gzip.compress(plain.read_bytes())[:-200])  # cut short
    with pytest.raises(InputError, match="cannot decompress it"):
        read_lammps_dump(gz)


@pytest.mark.parametrize("box", [ORTHO, TRICLINIC], ids=["ortho", "triclinic"])
def test_frame_writer_round_trip_with_elements_time_and_units(tmp_path, box):
    """mdargy's dump writer (EMD traj.lammpstrj): element column, ITEM: TIME, ITEM: UNITS in
    the first frame; read back here and by ASE with the elements."""
    import ase.io

    truth = _walk()
    vel = _walk(seed=9)
    types = (np.arange(N_ATOMS) % 3) + 1
    els = np.array(["Cu", "P", "S"])[types - 1]
    text = b"".join(dump_frame_text(1000 + 10 * f, box[0], types, truth[f], vel[f], box[1],
                                    elements=els, time_ps=5.0 + 0.01 * f,
                                    units="metal" if f == 0 else None)
                    for f in range(N_FRAMES))
    assert text.count(b"ITEM: UNITS") == 1 and text.count(b"ITEM: TIME\n") == N_FRAMES
    path = tmp_path / "w.lammpstrj"
    path.write_bytes(text)
    for e in ENGINES:
        d = read_lammps_dump(path, engine=e)
        assert d.elements.tolist() == els.tolist() and d.units == "metal"
        assert d.steps.tolist() == list(range(1000, 1000 + 10 * N_FRAMES, 10))
        np.testing.assert_allclose(d.times_ps, 5.0 + 0.01 * np.arange(N_FRAMES), rtol=1e-12)
        np.testing.assert_allclose(d.positions, truth, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(d.velocities, vel, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(d.box_A, box[0], atol=1e-12)
    images = ase.io.read(path, index=":", format="lammps-dump-text")
    assert len(images) == N_FRAMES and images[0].get_chemical_symbols() == els.tolist()
    np.testing.assert_allclose(images[-1].positions, truth[-1], rtol=1e-9, atol=1e-8)


def test_bad_files_raise_input_error_naming_the_file(tmp_path):
    truth, good = _ten_frames(tmp_path, "good.dump")
    text = good.read_text()
    cases = {}
    cases["missing"] = (tmp_path / "missing.dump", "no such")
    (tmp_path / "empty.dump").write_text("")
    cases["empty"] = (tmp_path / "empty.dump", "empty")
    (tmp_path / "notdump.dump").write_text("hello\nworld\n")
    cases["notdump"] = (tmp_path / "notdump.dump", "not a LAMMPS text dump")
    (tmp_path / "noid.dump").write_text(text.replace("ATOMS id type", "ATOMS ab type"))
    cases["noid"] = (tmp_path / "noid.dump", "no 'id' column")
    (tmp_path / "nocoord.dump").write_text(text.replace("xu yu zu", "fx fy fz"))
    cases["nocoord"] = (tmp_path / "nocoord.dump", "no coordinate columns")
    # a frame in the middle with one atom fewer
    frames = text.split("ITEM: TIMESTEP")
    f4 = frames[4].rstrip("\n").rsplit("\n", 1)[0] + "\n"
    (tmp_path / "count.dump").write_text(
        "ITEM: TIMESTEP".join(frames[:4] + [f4.replace(f"ATOMS\n{N_ATOMS}", "ATOMS\n"
                                                         f"{N_ATOMS - 1}")] + frames[5:]))
    cases["count"] = (tmp_path / "count.dump", "inconsistent atom counts")
    (tmp_path / "short.dump").write_text("ITEM: TIMESTEP".join(frames[:4] + [f4] + frames[5:]))
    cases["short"] = (tmp_path / "short.dump", "atom lines")
    lines = frames[5].split("\n")
    lines[12] = " ".join(lines[12].split()[:2] + ["1.2.3"] + lines[12].split()[3:])
    (tmp_path / "nan.dump").write_text("ITEM: TIMESTEP".join(frames[:5] + ["\n".join(lines)]
                                                             + frames[6:]))
    cases["nonnumeric"] = (tmp_path / "nan.dump", "frames? .*numbers|non-numeric")
    lines = frames[7].split("\n")
    lines[14] += " 0.5"
    (tmp_path / "extra.dump").write_text("ITEM: TIMESTEP".join(frames[:7] + ["\n".join(lines)]
                                                               + frames[8:]))
    cases["extra"] = (tmp_path / "extra.dump", "values|columns|fields")
    lines = frames[7].split("\n")
    lines[14] = lines[14].rsplit(" ", 1)[0]
    (tmp_path / "missval.dump").write_text("ITEM: TIMESTEP".join(frames[:7] + ["\n".join(lines)]
                                                                 + frames[8:]))
    cases["missingvalue"] = (tmp_path / "missval.dump", "values|columns|fields")
    ids = frames[6].replace(f"\n{N_ATOMS} ", f"\n{N_ATOMS + 100} ")
    (tmp_path / "ids.dump").write_text("ITEM: TIMESTEP".join(frames[:6] + [ids] + frames[7:]))
    cases["ids"] = (tmp_path / "ids.dump", "other atom ids")
    (tmp_path / "one.dump").write_text("ITEM: TIMESTEP".join(frames[:2])[:-40])
    cases["nocomplete"] = (tmp_path / "one.dump", "no complete frame")
    for name, (path, msg) in cases.items():
        for e in ENGINES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "one.dump" also warns about its cut frame
                with pytest.raises(InputError, match=msg) as exc:
                    read_lammps_dump(path, engine=e)
            assert str(path) in str(exc.value), (name, str(exc.value))
