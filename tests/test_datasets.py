"""Data sets: records, standardization, splits, local files, cache, (mocked) network.

No test touches the network: an autouse fixture blocks sockets, and the
download paths are served by fake fetchers / a pooch downloader that copies a
locally built archive. Real-data tests read the original UCI files from
``$DEEPLINEAR_DATA_DIR`` (set by .ci/run), or from ``<repo>/../shared/data``;
if neither exists they fail, they do not skip.
"""

import hashlib
import io
import os
import socket
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import deeplinear.datasets as ds
from deeplinear.datasets import _remote, abalone, gas_sensor

pytestmark = pytest.mark.nojit

_ENV_DATA = os.environ.get("DEEPLINEAR_DATA_DIR", "").strip()
REAL_DATA = Path(_ENV_DATA) if _ENV_DATA else \
    (Path(__file__).resolve().parent.parent.parent / "shared" / "data")


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No network, no data dir unless a test sets one, a fresh cache per test."""
    def blocked(*args, **kwargs):
        raise OSError("network access is disabled in the tests")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    monkeypatch.delenv("DEEPLINEAR_DATA_DIR", raising=False)
    monkeypatch.setenv("DEEPLINEAR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def real_data(monkeypatch):
    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(
            f"real data not found at {REAL_DATA}: set DEEPLINEAR_DATA_DIR to the folder "
            f"holding abalone/abalone.data and gas_sensor_drift/batchN.dat"
        )
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(REAL_DATA))
    return REAL_DATA


def test_network_is_blocked():
    with pytest.raises(OSError, match="disabled"):
        socket.create_connection(("archive.ics.uci.edu", 443), timeout=1)


# --------------------------------------------------------------------------
# Synthetic batch files and archives
# --------------------------------------------------------------------------


def batch_bytes(rows, seed=0):
    """A batch file in the original format; rows = [(gas, conc), ...]."""
    rng = np.random.default_rng(seed)
    lines = []
    for gas, conc in rows:
        vals = rng.normal(size=128) * 100
        feats = " ".join(f"{j}:{v:.6f}" for j, v in enumerate(vals, start=1))
        lines.append(f"{gas};{conc:.6f} {feats} \n")
    return "".join(lines).encode()


def fake_batches():
    """Ten small batch files: batch i has i ethanol rows and 2 other rows."""
    out = {}
    for i in range(1, 11):
        rows = [(1, 10.0 * k + i) for k in range(1, i + 1)] + [(2, 5.0), (6, 7.5)]
        out[f"batch{i}.dat"] = batch_bytes(rows, seed=i)
    return out


def build_archive(path, batches, nested=True):
    """A zip like UCI's: the batch files inside an inner Dataset.zip when nested."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        for name, data in batches.items():
            zf.writestr(f"Dataset/{name}", data)
    with zipfile.ZipFile(path, "w") as zf:
        if nested:
            zf.writestr("Dataset.zip", inner.getvalue())
        else:
            for name, data in batches.items():
                zf.writestr(f"Dataset/{name}", data)
    return path.read_bytes()


def serve_archive_hash(monkeypatch, digest):
    """Make the loader expect an archive with SHA-256 ``digest``."""
    monkeypatch.setattr(gas_sensor, "GAS_ARCHIVE",
                        replace(gas_sensor.GAS_ARCHIVE, sha256=digest))


@pytest.fixture
def fake_gas_remote(monkeypatch, tmp_path):
    """Known hashes of the fake files, and a pooch downloader serving the fake archive."""
    batches = fake_batches()
    archive = tmp_path / "served.zip"
    good = build_archive(archive, batches)
    for name, data in batches.items():
        monkeypatch.setitem(ds.GAS_SHA256, name, sha(data))
    serve_archive_hash(monkeypatch, sha(good))
    state = SimpleNamespace(calls=0, payloads=[], batches=batches, good=good)

    def downloader(url, output_file, pooch_instance):
        assert url == gas_sensor.GAS_ARCHIVE_URL
        state.calls += 1
        data = state.payloads.pop(0) if state.payloads else good
        with open(output_file, "wb") as fh:
            fh.write(data)

    monkeypatch.setattr(_remote, "_DOWNLOADER", downloader)
    return state


def abalone_frame():
    import pandas as pd
    frame = pd.read_csv(REAL_DATA / "abalone" / "abalone.data", header=None,
                        names=abalone.ABALONE_COLUMNS)
    return frame


@pytest.fixture
def fake_ucimlrepo(monkeypatch):
    """Replace ucimlrepo.fetch_ucirepo by a local one built from the real file."""
    import ucimlrepo
    if not (REAL_DATA / "abalone" / "abalone.data").is_file():
        pytest.fail(f"real data not found at {REAL_DATA}")
    frame = abalone_frame()
    state = SimpleNamespace(calls=0, frame=frame)

    def fetch_ucirepo(id=None, name=None):
        assert id == 1
        state.calls += 1
        f = state.frame
        return SimpleNamespace(data=SimpleNamespace(features=f[abalone.ABALONE_COLUMNS[:8]].copy(),
                                                    targets=f[["Rings"]].copy()))

    monkeypatch.setattr(ucimlrepo, "fetch_ucirepo", fetch_ucirepo)
    return state


# --------------------------------------------------------------------------
# Dataset, standardize, split
# --------------------------------------------------------------------------


def test_load_synthetic_unchanged_and_standardize_option():
    a = ds.load_synthetic(n=50, d=4, k=2, noise=0.1, seed=3)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 4))
    W = rng.standard_normal((2, 4)) / 2.0
    np.testing.assert_array_equal(a.X, X)
    np.testing.assert_allclose(a.Y, X @ W.T + 0.1 * rng.standard_normal((50, 2)))
    assert a.info["standardized"] is False
    b = ds.load_synthetic(n=50, d=4, k=2, noise=0.1, seed=3, standardize=True)
    np.testing.assert_allclose(b.X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(b.Y.std(0), 1, atol=1e-12)


def test_standardize_keeps_stats_and_maps_back(rng):
    X = rng.normal(3.0, 2.0, size=(40, 3))
    Y = rng.normal(-1.0, 5.0, size=(40, 1))
    raw = ds.Dataset(X, Y, ["a", "b", "c"], "y", {"name": "t"})
    z = ds.standardize(raw)
    st = z.info["standardized"]
    np.testing.assert_allclose(z.X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.X.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(st["X_mean"], X.mean(0))
    np.testing.assert_allclose(st["X_std"], X.std(0))
    np.testing.assert_allclose(z.unstandardize_Y(z.Y), Y, atol=1e-12)
    assert raw.info.get("standardized") in (None, False)   # input untouched
    with pytest.raises(ValueError, match="already standardized"):
        ds.standardize(z)


def test_standardize_zero_variance_feature_is_centred_not_divided(rng):
    X = np.column_stack([rng.normal(size=30), np.full(30, 0.1), rng.normal(size=30)])
    Y = rng.normal(size=(30, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no divide-by-zero RuntimeWarning
        z = ds.standardize(ds.Dataset(X, Y, ["a", "const", "c"], "y"))
    assert np.all(np.isfinite(z.X))
    np.testing.assert_array_equal(z.X[:, 1], 0.0)
    assert z.info["standardized"]["constant_features"] == ["const"]
    assert z.info["standardized"]["X_std"][1] == 1.0
    np.testing.assert_allclose(z.X[:, [0, 2]].std(0), 1, atol=1e-12)


def test_dataset_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rows"):
        ds.Dataset(np.zeros((3, 2)), np.zeros((4, 1)), ["a", "b"], "y")
    with pytest.raises(ValueError, match="feature_names"):
        ds.Dataset(np.zeros((3, 2)), np.zeros((3, 1)), ["a"], "y")


def test_split_sizes_and_seed():
    data = ds.load_synthetic(n=4177, d=3, seed=0)
    tr, va = data.split()
    assert (tr.n, va.n) == (3341, 836)
    idx = np.concatenate([tr.info["split"]["indices"], va.info["split"]["indices"]])
    assert sorted(idx.tolist()) == list(range(4177))
    np.testing.assert_array_equal(tr.X, data.X[tr.info["split"]["indices"]])
    np.testing.assert_array_equal(va.Y, data.Y[va.info["split"]["indices"]])
    tr2, va2 = data.split(valid_ratio=0.2, seed=42)
    np.testing.assert_array_equal(va.X, va2.X)
    _, va3 = data.split(seed=43)
    assert not np.array_equal(va.X, va3.X)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="valid_ratio"):
        ds.load_synthetic(n=10, d=2).split(valid_ratio=ratio)


# --------------------------------------------------------------------------
# Real data through DEEPLINEAR_DATA_DIR
# --------------------------------------------------------------------------


def test_abalone_real(real_data):
    a = ds.load_abalone(standardize=False)
    assert a.X.shape == (4177, 10) and a.Y.shape == (4177, 1)
    assert a.X.dtype == np.float64 and a.Y.dtype == np.float64
    assert a.feature_names == ["Sex_M", "Sex_F", "Sex_I", "Length", "Diameter", "Height",
                               "Whole_weight", "Shucked_weight", "Viscera_weight",
                               "Shell_weight"]
    assert a.target_name == "Rings"
    # M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15
    np.testing.assert_array_equal(a.X[0], [1, 0, 0, 0.455, 0.365, 0.095, 0.514, 0.2245,
                                           0.101, 0.15])
    assert a.Y[0, 0] == 15
    # F,0.625,0.485,0.15,1.094,0.531,0.261,0.296,10 is second to last; last is M ... 12
    np.testing.assert_array_equal(a.X[-1], [1, 0, 0, 0.71, 0.555, 0.195, 1.9485, 0.9455,
                                            0.3765, 0.495])
    assert a.Y[-1, 0] == 12
    np.testing.assert_array_equal(a.X[:, :3].sum(0), [1528, 1307, 1342])
    assert a.info["doi"] == "10.24432/C55C7W" and a.info["n"] == 4177
    assert a.info["source"].endswith(os.path.join("abalone", "abalone.data"))


def test_abalone_real_standardized_and_split(real_data):
    a = ds.load_abalone()
    np.testing.assert_allclose(a.X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(a.X.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(a.Y.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(a.Y.std(), 1, atol=1e-12)
    raw = ds.load_abalone(standardize=False)
    np.testing.assert_allclose(a.unstandardize_Y(a.Y), raw.Y, atol=1e-10)
    tr, va = a.split(0.2, seed=42)
    assert (tr.n, va.n) == (3341, 836)
    tr2, va2 = a.split(0.2, seed=42)
    np.testing.assert_array_equal(tr.X, tr2.X)


def test_ethanol_real_partial_directory_warns(real_data):
    with pytest.warns(ds.PartialDataWarning,
                      match=r"batch7\.dat, batch10\.dat missing: 1316 of 2565 ethanol rows"):
        e = ds.load_ethanol(standardize=False)
    assert e.X.shape == (1316, 128) and e.Y.shape == (1316, 1)
    assert e.info["missing_batches"] == [7, 10]
    assert e.info["batches"] == [1, 2, 3, 4, 5, 6, 8, 9]
    counts = np.bincount(e.info["rows"]["batch"], minlength=11)
    assert counts.tolist() == [0, 90, 164, 365, 64, 28, 514, 0, 30, 61, 0]
    # first line of batch1.dat: 1;10.000000 1:15596.162100 2:1.868245 3:2.371604 ...
    assert e.Y[0, 0] == 10.0
    np.testing.assert_array_equal(e.X[0, :3], [15596.1621, 1.868245, 2.371604])
    # every row comes from the file: compare the last ethanol row of batch9 with a slow parse
    lines = (real_data / "gas_sensor_drift" / "batch9.dat").read_text().splitlines()
    last = [ln for ln in lines if ln.startswith("1;")][-1].split()
    assert e.Y[-1, 0] == float(last[0].split(";")[1])
    np.testing.assert_array_equal(e.X[-1], [float(t.split(":")[1]) for t in last[1:]])
    assert e.info["doi"] == "10.24432/C5MK6M" and len(e.info["papers"]) == 2


def test_ethanol_real_standardized(real_data):
    with pytest.warns(ds.PartialDataWarning):
        e = ds.load_ethanol()
    np.testing.assert_allclose(e.X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(e.X.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(e.Y.std(), 1, atol=1e-12)
    tr, va = e.split()
    assert (tr.n, va.n) == (1052, 264)
    assert tr.info["rows"]["batch"].shape == (1052,)


def test_gas_sensor_drift_real_frame(real_data):
    with pytest.warns(ds.PartialDataWarning, match="6697 of 13910 rows"):
        df = ds.load_gas_sensor_drift()
    assert df.shape == (6697, 4 + 128)
    assert list(df.columns[:4]) == ["batch", "gas", "gas_name", "concentration_ppmv"]
    assert int((df["gas"] == 1).sum()) == 1316
    assert df.groupby("batch").size().to_dict() == {1: 445, 2: 1244, 3: 1586, 4: 161,
                                                    5: 197, 6: 2300, 8: 294, 9: 470}
    assert set(df["gas"].unique()) <= set(range(1, 7))
    assert (df.loc[df["gas"] == 1, "gas_name"] == "Ethanol").all()


def test_gas_parse_time_real(real_data):
    import time
    blobs = [(real_data / "gas_sensor_drift" / f"batch{i}.dat").read_bytes()
             for i in (1, 2, 3, 4, 5, 6, 8, 9)]
    t0 = time.perf_counter()
    n = sum(gas_sensor._parse_gas(b, "x")[0].size for b in blobs)
    elapsed = time.perf_counter() - t0
    assert n == 6697
    assert elapsed < 2.0, f"parsing 8 batch files took {elapsed:.2f} s"


def test_load_dispatcher(real_data, tmp_path):
    assert ds.load("abalone").X.shape == (4177, 10)
    assert ds.load("synthetic", n=20, d=3).X.shape == (20, 3)
    p = tmp_path / "t.csv"
    p.write_text("a,b,y\n1,2,3\n4,5,7\n")
    assert ds.load("csv", path=p, standardize=False).Y.ravel().tolist() == [3.0, 7.0]
    with pytest.raises(ValueError, match="unknown data set 'iris'"):
        ds.load("iris")


# --------------------------------------------------------------------------
# Faults: checksum, offline, partial, malformed
# --------------------------------------------------------------------------


def test_checksum_mismatch_in_data_dir_abalone(monkeypatch, tmp_path, fake_ucimlrepo):
    folder = tmp_path / "data" / "abalone"
    folder.mkdir(parents=True)
    raw = (REAL_DATA / "abalone" / "abalone.data").read_bytes()
    bad = raw.replace(b"0.455", b"0.456", 1)
    (folder / "abalone.data").write_bytes(bad)
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ds.ChecksumError) as err:
        ds.load_abalone()
    msg = str(err.value)
    assert str(folder / "abalone.data") in msg
    assert ds.ABALONE_SHA256 in msg and sha(bad) in msg
    assert fake_ucimlrepo.calls == 0          # not silently replaced either


def test_checksum_mismatch_in_data_dir_gas(monkeypatch, tmp_path, fake_gas_remote):
    folder = tmp_path / "data" / "gas_sensor_drift"
    folder.mkdir(parents=True)
    for name, data in fake_gas_remote.batches.items():
        (folder / name).write_bytes(data)
    tampered = fake_gas_remote.batches["batch4.dat"].replace(b"1;", b"2;", 1)
    (folder / "batch4.dat").write_bytes(tampered)
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ds.ChecksumError) as err:
        ds.load_ethanol()
    msg = str(err.value)
    assert "batch4.dat" in msg and ds.GAS_SHA256["batch4.dat"] in msg and sha(tampered) in msg
    assert fake_gas_remote.calls == 0


def test_offline_no_local_copy_abalone(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(ds.DataUnavailableError) as err:
        ds.load_abalone()        # the real ucimlrepo, with sockets blocked
    msg = str(err.value)
    assert "abalone.data" in msg
    assert "DEEPLINEAR_DATA_DIR/abalone/abalone.data" in msg and str(tmp_path / "empty") in msg
    assert abalone.ABALONE_URL in msg
    assert not (tmp_path / "cache" / "abalone" / "abalone.data").exists()


def test_offline_no_local_copy_ethanol(monkeypatch, tmp_path):
    with pytest.raises(ds.DataUnavailableError) as err:
        ds.load_ethanol()        # the real pooch downloader, with sockets blocked
    msg = str(err.value)
    assert "batch1.dat" in msg and "batch10.dat" in msg
    assert "DEEPLINEAR_DATA_DIR/gas_sensor_drift/" in msg and "unset" in msg
    assert gas_sensor.GAS_ARCHIVE_URL in msg
    assert not list((tmp_path / "cache").rglob("*.dat"))


def test_partial_directory_warning_synthetic(monkeypatch, tmp_path, fake_gas_remote):
    folder = tmp_path / "data" / "gas_sensor_drift"
    folder.mkdir(parents=True)
    for i in (1, 2, 5):
        (folder / f"batch{i}.dat").write_bytes(fake_gas_remote.batches[f"batch{i}.dat"])
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(tmp_path / "data"))
    with pytest.warns(ds.PartialDataWarning) as rec:
        e = ds.load_ethanol(standardize=False)
    msg = str(rec[0].message)
    assert msg.startswith("batch3.dat, batch4.dat, batch6.dat, batch7.dat, batch8.dat, "
                          "batch9.dat, batch10.dat missing: 8 of 2565 ethanol rows")
    assert e.n == 1 + 2 + 5
    assert fake_gas_remote.calls == 0       # a partial data dir is used as is


def gas_file_error(tmp_path, data):
    p = tmp_path / "batchX.dat"
    p.write_bytes(data)
    with pytest.raises(ds.DataFormatError) as err:
        gas_sensor._parse_gas(data, str(p))
    return err.value


def with_line(data, lineno, new):
    lines = data.decode().splitlines(keepends=True)
    lines[lineno - 1] = new
    return "".join(lines).encode()


def good_line(gas=1, conc=10.0, n=128, values=None, start=1):
    values = values if values is not None else [float(j) for j in range(n)]
    feats = " ".join(f"{j}:{v:.6f}" for j, v in zip(range(start, start + n), values))
    return f"{gas};{conc:.6f} {feats} \n"


def test_parse_gas_accepts_good_file():
    data = batch_bytes([(1, 10.0), (3, 50.0), (6, 2.5)], seed=5)
    gas, conc, X = gas_sensor._parse_gas(data, "good")
    assert gas.tolist() == [1, 3, 6] and conc.tolist() == [10.0, 50.0, 2.5]
    assert X.shape == (3, 128)
    first = data.decode().splitlines()[0].split()
    np.testing.assert_array_equal(X[0], [float(t.split(":")[1]) for t in first[1:]])


def test_malformed_line_reports_file_and_line(tmp_path):
    data = with_line(batch_bytes([(1, 10.0)] * 5), 4, "1,10.0 1:2.0 garbage\n")
    err = gas_file_error(tmp_path, data)
    assert err.line == 4 and "batchX.dat, line 4" in str(err) and "malformed" in str(err)


def test_wrong_number_of_features(tmp_path):
    data = with_line(batch_bytes([(1, 10.0)] * 5), 3, good_line(n=127))
    err = gas_file_error(tmp_path, data)
    assert err.line == 3 and "expected 128 features, got 127" in str(err)


def test_too_many_features(tmp_path):
    data = with_line(batch_bytes([(1, 10.0)] * 5), 2, good_line(n=129))
    err = gas_file_error(tmp_path, data)
    assert err.line == 2 and "expected 128 features, got 129" in str(err)


def test_features_out_of_order(tmp_path):
    line = good_line().replace(" 5:", " 6:", 1)
    err = gas_file_error(tmp_path, with_line(batch_bytes([(1, 10.0)] * 3), 2, line))
    assert err.line == 2 and "feature 5" in str(err)


def test_nan_value(tmp_path):
    vals = [1.0] * 128
    vals[9] = float("nan")
    err = gas_file_error(tmp_path, with_line(batch_bytes([(1, 10.0)] * 3), 3,
                                             good_line(values=vals)))
    assert err.line == 3 and "feature 10" in str(err) and "NaN" in str(err)


def test_unknown_gas_id(tmp_path):
    err = gas_file_error(tmp_path, with_line(batch_bytes([(1, 10.0)] * 3), 1,
                                             good_line(gas=7)))
    assert err.line == 1 and "unknown gas id 7" in str(err)


def test_malformed_line_through_loader(monkeypatch, tmp_path):
    folder = tmp_path / "data" / "gas_sensor_drift"
    folder.mkdir(parents=True)
    data = with_line(batch_bytes([(1, 10.0)] * 4), 2, good_line(gas=9))
    (folder / "batch2.dat").write_bytes(data)
    monkeypatch.setitem(ds.GAS_SHA256, "batch2.dat", sha(data))
    monkeypatch.setenv("DEEPLINEAR_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ds.DataFormatError, match=r"batch2\.dat, line 2: unknown gas id 9"):
        ds.load_ethanol()


# --------------------------------------------------------------------------
# Cache and (mocked) network
# --------------------------------------------------------------------------


def test_abalone_fetched_once_then_cached(tmp_path, fake_ucimlrepo):
    a = ds.load_abalone(standardize=False)
    assert a.X.shape == (4177, 10) and fake_ucimlrepo.calls == 1
    cached = tmp_path / "cache" / "abalone" / "abalone.data"
    assert sha(cached.read_bytes()) == ds.ABALONE_SHA256   # the original bytes
    b = ds.load_abalone(standardize=False)
    assert fake_ucimlrepo.calls == 1 and b.info["source"] == str(cached)
    np.testing.assert_array_equal(a.X, b.X)
    ref = abalone._parse_abalone((REAL_DATA / "abalone" / "abalone.data").read_bytes(), "ref")
    np.testing.assert_array_equal(a.X, ref[0])


def test_abalone_network_data_with_wrong_hash_not_used(tmp_path, fake_ucimlrepo):
    fake_ucimlrepo.frame = fake_ucimlrepo.frame.copy()
    fake_ucimlrepo.frame.loc[0, "Length"] = 0.5
    with pytest.raises(ds.ChecksumError, match="ucimlrepo") as err:
        ds.load_abalone()
    assert ds.ABALONE_SHA256 in str(err.value)
    assert not (tmp_path / "cache" / "abalone" / "abalone.data").exists()


def test_abalone_corrupted_cache_refetched(tmp_path, fake_ucimlrepo):
    cached = tmp_path / "cache" / "abalone" / "abalone.data"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"M,0.1,0.1,0.1,0.1,0.1,0.1,0.1,1\n")
    with pytest.warns(UserWarning, match="corrupted"):
        a = ds.load_abalone()
    assert fake_ucimlrepo.calls == 1 and a.n == 4177
    assert sha(cached.read_bytes()) == ds.ABALONE_SHA256


def test_gas_download_extract_and_cache(tmp_path, fake_gas_remote):
    e = ds.load_ethanol(standardize=False)
    assert fake_gas_remote.calls == 1
    assert e.n == sum(range(1, 11))               # batch i has i ethanol rows
    assert e.info["missing_batches"] == []
    folder = tmp_path / "cache" / "gas_sensor_drift"
    for name, data in fake_gas_remote.batches.items():
        assert (folder / name).read_bytes() == data
    assert sorted(e.Y.ravel().tolist())[:2] == [11.0, 12.0]
    df = ds.load_gas_sensor_drift()                 # from the cache now
    assert fake_gas_remote.calls == 1 and len(df) == sum(range(1, 11)) + 20


def test_gas_download_flat_archive(monkeypatch, tmp_path, fake_gas_remote):
    flat = build_archive(tmp_path / "flat.zip", fake_gas_remote.batches, nested=False)
    serve_archive_hash(monkeypatch, sha(flat))
    fake_gas_remote.payloads = [flat]
    assert ds.load_ethanol().n == 55


def test_truncated_download_retried_then_reported(tmp_path, fake_gas_remote):
    fake_gas_remote.payloads = [fake_gas_remote.good[:1000]] * _remote.DOWNLOAD_ATTEMPTS
    with pytest.raises(ds.DataError, match="failed its SHA-256 check 3 times") as err:
        ds.load_ethanol()
    assert "nothing was cached" in str(err.value)
    assert fake_gas_remote.calls == _remote.DOWNLOAD_ATTEMPTS
    cache = tmp_path / "cache"
    assert not (cache / gas_sensor.GAS_ARCHIVE_NAME).exists()
    assert not list(cache.rglob("*.dat"))


def test_truncated_download_retried_then_ok(tmp_path, fake_gas_remote):
    fake_gas_remote.payloads = [fake_gas_remote.good[:1000]]
    e = ds.load_ethanol()
    assert fake_gas_remote.calls == 2 and e.n == 55
    assert sha((tmp_path / "cache" / gas_sensor.GAS_ARCHIVE_NAME).read_bytes()) == \
        gas_sensor.GAS_ARCHIVE.sha256


def test_gas_corrupted_cache_refetched(tmp_path, fake_gas_remote):
    ds.load_ethanol()
    folder = tmp_path / "cache"
    bad = folder / "gas_sensor_drift" / "batch3.dat"
    bad.write_bytes(b"1;10.0 1:1.0\n")
    (folder / gas_sensor.GAS_ARCHIVE_NAME).write_bytes(b"corrupted archive")
    with pytest.warns(UserWarning, match=r"batch3\.dat is corrupted"):
        e = ds.load_ethanol(standardize=False)
    assert e.n == 55 and fake_gas_remote.calls == 2
    assert bad.read_bytes() == fake_gas_remote.batches["batch3.dat"]


def test_archive_with_bad_batch_not_cached(monkeypatch, tmp_path, fake_gas_remote):
    batches = dict(fake_gas_remote.batches)
    batches["batch5.dat"] = batches["batch5.dat"].replace(b"1;", b"3;", 1)
    other = build_archive(tmp_path / "other.zip", batches)
    serve_archive_hash(monkeypatch, sha(other))
    fake_gas_remote.payloads = [other]
    with pytest.raises(ds.ChecksumError, match=r"batch5\.dat"):
        ds.load_ethanol()
    assert not list((tmp_path / "cache").rglob("*.dat"))


def test_unwritable_cache_dir_falls_back(monkeypatch, tmp_path, fake_ucimlrepo):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DEEPLINEAR_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(_remote.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    with pytest.warns(UserWarning, match="cannot be written"):
        a = ds.load_abalone()
    assert a.n == 4177
    fallback = tmp_path / "tmp"
    assert len(list(fallback.glob("deeplinear-cache-*/abalone/abalone.data"))) == 1


def test_unwritable_cache_and_fallback_explained(monkeypatch, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    monkeypatch.setenv("DEEPLINEAR_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(_remote.tempfile, "gettempdir", lambda: str(blocker / "tmp"))
    with pytest.raises(ds.DataError, match="DEEPLINEAR_CACHE_DIR"):
        ds.cache_dir()


def test_data_dir_wins_over_cache(real_data, tmp_path):
    cached = tmp_path / "cache" / "abalone" / "abalone.data"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    a = ds.load_abalone()
    assert a.info["source"] == str(real_data / "abalone" / "abalone.data")
    assert cached.read_bytes() == b"garbage"      # the cache was not consulted


# --------------------------------------------------------------------------
# load_csv
# --------------------------------------------------------------------------


def test_public_names_are_all():
    # What the package offers is its __all__ and its modules; the facts of
    # each data set (URLs, columns, row counts) are in that data set's module.
    public = {n for n in vars(ds) if not n.startswith("_")}
    modules = {"abalone", "gas_sensor", "synthetic", "tabular"}
    assert public == set(ds.__all__) | modules
    assert {"ABALONE_URL", "ABALONE_COLUMNS"} <= set(vars(abalone))
    assert {"GAS_ARCHIVE_URL", "GAS_ETHANOL_ROWS"} <= set(vars(gas_sensor))


def test_load_csv_numeric(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("x1,x2,target,x3\n1,2,10,0.5\n2,4,20,1.5\n3,7,35,2.5\n")
    d = ds.load_csv(p, target="target", standardize=False)
    assert d.feature_names == ["x1", "x2", "x3"] and d.target_name == "target"
    np.testing.assert_array_equal(d.X, [[1, 2, 0.5], [2, 4, 1.5], [3, 7, 2.5]])
    np.testing.assert_array_equal(d.Y.ravel(), [10, 20, 35])
    assert d.X.dtype == np.float64
    z = ds.load_csv(p, target="target")
    np.testing.assert_allclose(z.X.std(0), 1, atol=1e-12)
    assert ds.load_csv(p, standardize=False).target_name == "x3"   # default: last column


def test_load_csv_non_numeric_column_named(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,colour,y\n1,red,2\n2,blue,3\n")
    with pytest.raises(ds.DataError, match=r"column 'colour' is not numeric.*'red'"):
        ds.load_csv(p, target="y")


def test_load_csv_missing_value_named(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,y\n1,,2\n2,5,3\n")
    with pytest.raises(ds.DataError, match=r"column 'b' has 1 missing"):
        ds.load_csv(p, target="y")


def test_load_csv_unknown_target(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,y\n1,1,2\n2,5,3\n")
    with pytest.raises(ds.DataError, match=r"target column 'z' not found"):
        ds.load_csv(p, target="z")


@pytest.mark.parametrize("sep, decimal", [(",", "."), (";", ",")])
def test_load_csv_without_header_reads_the_first_row_as_data(tmp_path, sep, decimal):
    # The same table with and without its header row: the same arrays, bit
    # for bit (no arithmetic happens before standardization). Without the
    # header the first row is data and the columns are named by position.
    rows = [["1", "2", "10", "0.5"], ["2", "4", "20", "1.5"], ["3", "7", "35", "-2.5"]]
    body = "".join(sep.join(f.replace(".", decimal) for f in r) + "\n" for r in rows)
    named, bare = tmp_path / "named.csv", tmp_path / "bare.csv"
    named.write_text(sep.join(["x1", "x2", "y", "x3"]) + "\n" + body)
    bare.write_text(body)
    opts = dict(sep=sep, decimal=decimal)
    for std in (False, True):
        a = ds.load_csv(named, target="y", standardize=std, **opts)
        with pytest.warns(ds.NoHeaderWarning, match=r"bare\.csv: no header row.*'0' to '3'; "
                                                     r"the target is '2'"):
            b = ds.load_csv(bare, target="2", standardize=std, **opts)
        np.testing.assert_array_equal(b.X, a.X)
        np.testing.assert_array_equal(b.Y, a.Y)
        assert b.n == 3 and b.feature_names == ["0", "1", "3"] and b.target_name == "2"
    # The default target is the last column, with a header or without.
    with pytest.warns(ds.NoHeaderWarning, match="the target is '3'"):
        b = ds.load_csv(bare, standardize=False, **opts)
    np.testing.assert_array_equal(b.Y, ds.load_csv(named, standardize=False, **opts).Y)
    np.testing.assert_array_equal(b.Y.ravel(), [0.5, 1.5, -2.5])


def test_load_csv_header_is_guessed_only_when_not_given(tmp_path, recwarn):
    p = tmp_path / "t.csv"
    # One field that is not a number makes the first row a header.
    p.write_text("1,2,y\n3,4,5\n6,7,8\n")
    d = ds.load_csv(p, standardize=False)
    assert d.feature_names == ["1", "2"] and d.target_name == "y" and d.n == 2
    # header=None: no header row, said by the caller, so no warning.
    q = tmp_path / "q.csv"
    q.write_text("3,4,5\n6,7,8\n")
    d = ds.load_csv(q, standardize=False, header=None)
    assert d.feature_names == ["0", "1"] and d.n == 2
    # header=0: a first row of numbers read as names, as asked.
    d = ds.load_csv(q, standardize=False, header=0)
    assert d.feature_names == ["3", "4"] and d.target_name == "5" and d.n == 1
    assert not [w for w in recwarn if issubclass(w.category, ds.NoHeaderWarning)]


def test_load_csv_without_header_unknown_target_says_why(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ds.DataError, match=r"target column 'y' not found; columns are "
                                           r"\['0', '1', '2'\] \(no header row"):
        ds.load_csv(p, target="y")
    with pytest.raises(TypeError, match=r"^target: expected a column name \(str\)"):
        ds.load_csv(p, target=2)


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(ds.DataError, match="no such file"):
        ds.load_csv(tmp_path / "nope.csv")
