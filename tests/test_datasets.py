"""Data for training: scikit-learn's bundled sets, the user's .npz files and every check made on
them before training, the standardisation and its statistics saved with the checkpoint, and a
small data set trained to scikit-learn's accuracy."""

import re

import numpy as np
import pytest

from wafer_engine.sw.cli.main import main
from wafer_engine.sw.training.data import load_data_files, load_dataset, load_npz
from wafer_engine.sw.training.job import TrainOptions, build_trainer, run_training
from wafer_engine.sw.training.standardize import Standardizer, load_standardizer


def _quiet(*_):
    pass


@pytest.mark.parametrize("name,features,classes,train,test", [
    ("digits", 64, 10, 1437, 360), ("iris", 4, 3, 120, 30), ("wine", 13, 3, 142, 36),
    ("breast_cancer", 30, 2, 455, 114),
])
def test_bundled_datasets(name, features, classes, train, test):
    x_train, y_train, x_test, y_test, k = load_dataset(name)
    assert (x_train.shape, x_test.shape, k) == ((train, features), (test, features), classes)
    assert x_train.dtype == np.float32 and set(np.unique(y_train)) == set(range(classes))


def test_standardisation_and_its_statistics(tmp_path):
    x = np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)
    stats = Standardizer.fit(x)
    assert stats.mean.tolist() == [2.0, 5.0] and stats.scale.tolist() == [1.0, 1.0]
    assert stats.apply(x).tolist() == [[-1.0, 0.0], [1.0, 0.0]]   # a constant feature stays 0
    with pytest.raises(ValueError, match=r"^Samples must have shape \(S, 2\), not \(2, 3\)$"):
        stats.apply(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^Input statistics must be finite with positive "
                                         r"scales$"):
        Standardizer([0.0], [0.0])
    # Saved with every checkpoint, loaded back from it (what inference applies).
    opts = TrainOptions(dataset="iris", hidden=(8,), epochs=1, checkpoint=str(tmp_path / "ck"))
    trainer, data = build_trainer(opts)
    run_training(trainer, data, 1, checkpoint=opts.checkpoint, progress=False, log=_quiet)
    loaded = load_standardizer(opts.checkpoint)
    raw = load_dataset("iris")[0]
    assert np.array_equal(loaded.apply(raw), data[0])
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match=r"^.*other.npz holds no input statistics \(arrays "
                                         r"input_mean, input_scale missing\)$"):
        load_standardizer(tmp_path / "other.npz")


def test_resume_on_other_data_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", X=rng.standard_normal((64, 5)),
                 y=np.arange(64) % 3)
    ck = tmp_path / "ck"
    for name, epochs in (("a", 1), ("b", 2)):
        opts = TrainOptions(data=str(tmp_path / f"{name}.npz"), hidden=(8,), epochs=epochs,
                            checkpoint=str(ck))
        trainer, data = build_trainer(opts)
        if name == "a":
            run_training(trainer, data, epochs, checkpoint=ck, progress=False, log=_quiet)
    with pytest.raises(ValueError, match=r"^Checkpoint .*ckpt-00000001.npz was made with "
                                         r"another input_mean \(other training data\?\)$"):
        run_training(trainer, data, 2, checkpoint=ck, progress=False, log=_quiet)


def _bad_files():
    """(arrays to save, expected message after the file name)."""
    ok_x, ok_y = np.ones((4, 3)), np.array([0, 1, 2, 0])
    nan = ok_x.copy()
    nan[2, 1] = np.nan
    return [
        (dict(X=ok_x), r" must hold arrays X and y, not \['X'\]"),
        (dict(X=np.ones(4), y=ok_y), r": X must be samples x features \(2-D\), not shape "
                                     r"\(4,\)"),
        (dict(X=np.ones((0, 3)), y=np.zeros(0, int)), r": X has no samples or no features "
                                                      r"\(shape \(0, 3\)\)"),
        (dict(X=ok_x.astype(complex), y=ok_y), r": X must hold real numbers, not dtype "
                                               r"complex128"),
        (dict(X=ok_x, y=ok_y[:3]), r": y must have shape \(4,\) to match X, not \(3,\)"),
        (dict(X=ok_x, y=ok_y.astype(float)), r": y must hold integer labels, not dtype "
                                             r"float64"),
        (dict(X=nan, y=ok_y), r": X holds NaN or infinite values \(first at sample 2, "
                              r"feature 1\)"),
        (dict(X=ok_x * 1e300, y=ok_y), r": X holds values beyond the float32 range \(first "
                                       r"at sample 0, feature 0\)"),
        (dict(X=ok_x, y=np.array([0, 1, -1, 0])), r": y must hold labels 0 .. K-1, not -1 "
                                                  r"\(sample 2\)"),
        (dict(X=np.array([[{}], [{}]], dtype=object), y=ok_y[:2]),
         r": cannot read as .npz: Object arrays cannot be loaded when allow_pickle=False"),
    ]


@pytest.mark.parametrize("arrays,message", _bad_files())
def test_data_file_errors(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}{message}$"):
        load_npz(path)


def test_unreadable_data_files(tmp_path):
    text, single = tmp_path / "t.npz", tmp_path / "s.npy"
    text.write_text("not numpy")
    np.save(single, np.ones(3))
    with pytest.raises(ValueError, match=f"^{re.escape(str(text))}: cannot read as .npz: "):
        load_npz(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(single))}: cannot read as .npz: it "
                                         f"holds a single array$"):
        load_npz(single)


def test_train_and_test_files_must_agree(tmp_path):
    train, test, wide, extra = (tmp_path / f"{n}.npz" for n in ("train", "test", "w", "e"))
    np.savez(train, X=np.ones((6, 3)), y=np.array([0, 1, 2, 0, 1, 2]))
    np.savez(test, X=np.ones((2, 3)), y=np.array([2, 1]))
    np.savez(wide, X=np.ones((2, 4)), y=np.array([0, 1]))
    np.savez(extra, X=np.ones((2, 3)), y=np.array([0, 3]))
    x, y, x_test, y_test, classes = load_data_files(train, test)
    assert classes == 3 and x_test.shape == (2, 3) and y_test.tolist() == [2, 1]
    with pytest.raises(ValueError, match=f"^{re.escape(str(wide))}: X has 4 features, "
                                         f"{re.escape(str(train))} has 3$"):
        load_data_files(train, wide)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(extra))}: labels must lie in "
                                         rf"\[0, 3\) \(the classes of {re.escape(str(train))}"
                                         rf"\), not up to 3$"):
        load_data_files(train, extra)
    # Without a test file, a split of the training file (stratified when it can be).
    x, y, x_test, y_test, _ = load_data_files(train)
    assert len(y) + len(y_test) == 6 and len(y_test) >= 1


def test_model_must_fit_the_data(tmp_path):
    pytest.importorskip("torch")
    model = tmp_path / "m.py"
    model.write_text("import torch.nn as nn\n"
                     "wide = nn.Sequential(nn.Linear(64, 10))\n"
                     "four = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10))\n")
    with pytest.raises(ValueError, match=r"^The model takes 64 inputs but the data has 4 "
                                         r"features$"):
        build_trainer(TrainOptions(dataset="iris", model=f"{model}:wide"))
    with pytest.raises(ValueError, match=r"^The model has 10 outputs but the data has 3 "
                                         r"classes \(labels 0..2\)$"):
        build_trainer(TrainOptions(dataset="iris", model=f"{model}:four"))


def test_wafer_train_data_error_exits_2(tmp_path, capsys):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((4, 3)), y=np.array([0.5, 1, 2, 0]))
    code = main(["train", "--no-progress", "--data", str(path)])
    assert code == 2
    assert capsys.readouterr().err == (f"wafer train: error: {path}: y must hold integer "
                                       f"labels, not dtype float64\n")


def test_wine_matches_scikit_learn():
    """Wine, 13-32-3 with biases, half the weights zero, 30 epochs: at least scikit-learn's
    MLPClassifier of the same size on the same split minus 3 points (measured: both 100 %;
    tb/bench/own_model.py runs every small set, dense and sparse, into docs/training.md)."""
    from sklearn.neural_network import MLPClassifier

    opts = TrainOptions(dataset="wine", hidden=(32,), bias=True, sparsity=0.5, epochs=30,
                        prune_epochs=10)
    trainer, data = build_trainer(opts)
    result = run_training(trainer, data, opts.epochs, progress=False, log=_quiet)
    reference = MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0)
    reference = reference.fit(data[0], data[1]).score(data[2], data[3])
    assert result["weight_sparsity"] >= 0.5
    assert result["accuracy"][-1] >= reference - 0.03, (result["accuracy"], reference)
