"""Every batch's outputs are checked against the card: a model that breaks its card stops the
run with a message naming the model, the output and what came; dict, logit and adapted models
give the demo model's numbers."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from tests.model.models import (
    DEMO,
    MEASUREMENT,
    PROBABILITY,
    demo_net,
    model_dir,
    torchscript_bytes,
)
from validation.exceptions import ModelContractError, ModelIntegrityError, ValidationToolkitError
from validation.ingest.scan import ingest_partition
from validation.model.contract import check_outputs
from validation.model.infer import run_inference
from validation.model.registry import load_locked_model
from validation.sites import load_sites, site_files


@pytest.fixture(scope="module")
def accounting(tiny_demo, tmp_path_factory):
    site = load_sites(site_files(tiny_demo / "sites"), root=tiny_demo)[0]
    out = tmp_path_factory.mktemp("ingest")
    ingest_partition(site.partitions[0], out)
    return out / "accounting.csv"


@pytest.fixture(scope="module")
def demo_predictions(accounting, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "p.csv"
    run_inference(load_locked_model(DEMO), accounting, out, batch_size=2)
    return pd.read_csv(out)


class Columns(nn.Module):
    """One tensor of shape (batch, 2): two values per study."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        mean = frames.mean(dim=(1, 2, 3))
        return torch.stack([mean, mean], dim=1)


class NotFinite(nn.Module):
    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = frames.mean(dim=(1, 2, 3))
        return mean + 10.0, torch.full_like(mean, float("nan"))


class OutOfRange(nn.Module):
    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = frames.mean(dim=(1, 2, 3))
        return mean + 10.0, torch.full_like(mean, 1.5)


class Three(nn.Module):
    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean = frames.mean(dim=(1, 2, 3))
        return mean, mean, mean


class Integers(nn.Module):
    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = frames.mean(dim=(1, 2, 3))
        return (mean * 100).long(), mean


class ByName(nn.Module):
    """The demo model returning a dict, its keys in another order than the card's."""

    def __init__(self) -> None:
        super().__init__()
        self.net = demo_net()

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        ivsd, probability = self.net(frames)
        return {"lvh_probability": probability, "ivsd_mm": ivsd}


class Logit(nn.Module):
    """The demo model returning the logit of its LVH probability."""

    def __init__(self) -> None:
        super().__init__()
        self.net = demo_net()

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ivsd, _ = self.net(frames)
        return ivsd, (ivsd - self.net.logistic[0]) / self.net.logistic[1]


class ProbabilityOnly(nn.Module):
    """The demo model's probability alone, one tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.net = demo_net()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)[1]


class ChannelsFirst(nn.Module):
    """The demo model reading (batch, 1, frames, size, size), returning other names."""

    def __init__(self) -> None:
        super().__init__()
        self.net = demo_net()

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        ivsd, probability = self.net(frames[:, 0])
        return {"ivsd": ivsd, "lvh": probability}


def _same_predictions(table: pd.DataFrame, demo: pd.DataFrame) -> None:
    """The same rows and values as the demo model's (the weights file differs)."""
    columns = [c for c in demo.columns if c != "model_sha256"]
    pd.testing.assert_frame_equal(table[columns], demo[columns])


def _run(folder, accounting, tmp_path):
    out = tmp_path / "predictions.csv"
    run_inference(load_locked_model(folder), accounting, out, batch_size=2)
    return out


def test_a_batch_by_two_tensor_stops_naming_model_output_and_shape(accounting, tmp_path):
    folder = model_dir(tmp_path / "m", torchscript_bytes(Columns()), [MEASUREMENT])
    out = tmp_path / "predictions.csv"
    with pytest.raises(ModelContractError) as info:
        run_inference(load_locked_model(folder), accounting, out, batch_size=2)
    assert str(info.value) == (
        "ivsd-cnn 1.0.0: output 'ivsd_mm' has shape (2, 2), expected (2,) (one value per study)"
    )
    assert not out.exists()  # no partial table is left behind


def test_contract_error_has_its_own_exit_code():
    codes = {
        c.exit_code for c in ValidationToolkitError.__subclasses__() if c is not ModelContractError
    }
    assert ModelContractError.exit_code == 13 and ModelContractError.exit_code not in codes


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (NotFinite(), r"output 'lvh_probability' is not finite for 2 of 2 studies \(first: nan"),
        (
            OutOfRange(),
            r"output 'lvh_probability' is a probability but 2 of 2 values lie "
            r"outside \[0, 1\] \(first: 1\.5",
        ),
        (
            Three(),
            r"the forward returned 3 output\(s\), expected 2 \(the card's outputs "
            r"\['ivsd_mm', 'lvh_probability'\]",
        ),
        (Integers(), r"output 'ivsd_mm' has dtype int64, expected a floating dtype"),
    ],
)
def test_broken_outputs_stop_the_run(module, message, accounting, tmp_path):
    folder = model_dir(tmp_path / "m", torchscript_bytes(module))
    with pytest.raises(ModelContractError, match="^ivsd-cnn 1.0.0: " + message):
        _run(folder, accounting, tmp_path)


def test_a_dict_is_matched_by_name(accounting, demo_predictions, tmp_path):
    folder = model_dir(tmp_path / "m", torchscript_bytes(ByName()))
    table = pd.read_csv(_run(folder, accounting, tmp_path))
    _same_predictions(table, demo_predictions)


def test_a_dict_with_other_names_is_refused(tmp_path):
    folder = model_dir(tmp_path / "m", torchscript_bytes(ChannelsFirst()))
    model = load_locked_model(folder)  # no adapter: nothing renames the outputs
    with pytest.raises(ModelContractError, match=r"dict with keys \['ivsd', 'lvh'\], expected"):
        check_outputs(model.card, model.forward(torch.zeros(2, 1, 8, 96, 96)), 2)


def test_a_logit_becomes_a_probability(accounting, demo_predictions, tmp_path):
    logit = {"name": "lvh_logit", "role": "logit", "shape": ["batch"], "description": "logit"}
    folder = model_dir(tmp_path / "m", torchscript_bytes(Logit()), [MEASUREMENT, logit])
    table = pd.read_csv(_run(folder, accounting, tmp_path))
    assert table["ivsd_mm"].tolist() == demo_predictions["ivsd_mm"].tolist()
    assert table["lvh_probability"].tolist() == pytest.approx(
        demo_predictions["lvh_probability"].tolist(), abs=2e-6
    )


def test_a_single_tensor_is_a_one_element_tuple(tmp_path):
    folder = model_dir(tmp_path / "m", torchscript_bytes(ProbabilityOnly()), [PROBABILITY])
    model = load_locked_model(folder)
    frames = torch.rand(3, 8, 96, 96)
    values = check_outputs(model.card, model.forward(frames), 3)
    assert set(values) == {"probability"}  # no measurement: its column stays empty
    expected = demo_net()(frames)[1].detach().double().numpy()
    assert values["probability"].tolist() == expected.tolist()


def test_an_adapter_makes_the_standard_forward(accounting, demo_predictions, tmp_path):
    weights = torchscript_bytes(ChannelsFirst())
    folder = model_dir(tmp_path / "m", weights, adapter="tests.model.adapters:channels_first")
    table = pd.read_csv(_run(folder, accounting, tmp_path))
    _same_predictions(table, demo_predictions)


def test_an_adapter_that_cannot_be_imported_or_returns_no_callable(tmp_path):
    weights = torchscript_bytes(Columns())
    missing = model_dir(
        tmp_path / "a", weights, [MEASUREMENT], adapter="tests.model.adapters:absent"
    )
    with pytest.raises(ModelIntegrityError, match=r"adapter 'tests.model.adapters:absent' cannot"):
        load_locked_model(missing)
    broken = model_dir(
        tmp_path / "b", weights, [MEASUREMENT], adapter="tests.model.adapters:not_a_forward"
    )
    with pytest.raises(ModelContractError, match=r"returned int, expected a callable"):
        load_locked_model(broken)
