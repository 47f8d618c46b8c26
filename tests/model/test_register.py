"""``mval model register``: fills the digests a card lacks, verifies the ones it records, and
refuses (never overwrites) a recorded digest that differs from the weights'."""

from __future__ import annotations

import pytest
import yaml

from tests.model.models import PROBABILITY, demo_net, model_dir, onnx_bytes, torchscript_bytes
from validation.cli import main
from validation.exceptions import ModelIntegrityError
from validation.hashing import sha256_bytes
from validation.model.card import CARD_NAME, read_card, state_digest
from validation.model.formats import onnx_state_digest
from validation.model.register import register_model


@pytest.fixture(scope="module")
def weights() -> bytes:
    return torchscript_bytes(demo_net())


def _card(folder):
    return yaml.safe_load((folder / CARD_NAME).read_text())


def test_register_fills_missing_digests_keeping_the_rest_of_the_card(weights, tmp_path):
    folder = model_dir(tmp_path / "m", weights, digests=False)
    path = folder / CARD_NAME
    path.write_text(
        path.read_text().replace("limitations:", "# reviewed by the board\nlimitations:")
    )
    before = _card(folder)
    registration = register_model(folder)
    assert registration.filled == ("sha256", "state_sha256") and registration.written
    card = _card(folder)
    assert card["weights"]["sha256"] == sha256_bytes(weights)
    assert card["weights"]["state_sha256"] == state_digest(demo_net())
    assert {k: v for k, v in card.items() if k != "weights"} == {
        k: v for k, v in before.items() if k != "weights"
    }
    assert "# reviewed by the board" in path.read_text()  # the file kept, not re-dumped
    again = register_model(folder)
    assert again.verified == ("sha256", "state_sha256") and not again.written


def test_register_onnx_records_the_initializers_digest(tmp_path):
    data = onnx_bytes(demo_net(), ["ivsd_mm", "lvh_probability"])
    folder = model_dir(tmp_path / "m", data, weights_format="onnx", digests=False)
    register_model(folder)
    assert read_card(folder).state_sha256 == onnx_state_digest(data)
    assert read_card(folder).sha256 == sha256_bytes(data)


@pytest.mark.parametrize("key", ["sha256", "state_sha256"])
def test_register_refuses_a_card_whose_digest_differs(key, weights, tmp_path):
    folder = model_dir(tmp_path / "m", weights)
    path = folder / CARD_NAME
    right = _card(folder)["weights"][key]
    path.write_text(path.read_text().replace(right, "a" * 64))
    text = path.read_text()
    with pytest.raises(ModelIntegrityError) as info:
        register_model(folder)
    message = str(info.value)
    assert str(path) in message and "a" * 64 in message and right in message
    assert f"weights.{key}" in message
    assert path.read_text() == text  # never overwritten


def test_register_from_the_command_line(weights, tmp_path, capsys):
    folder = model_dir(tmp_path / "m", weights, [PROBABILITY], digests=False)
    assert main(["model", "register", str(folder), "--check"]) == ModelIntegrityError.exit_code
    assert "records no weights.sha256, weights.state_sha256" in capsys.readouterr().err
    assert read_card(folder).sha256 is None  # --check writes nothing
    assert main(["model", "register", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"weights.sha256 {sha256_bytes(weights)} (file sha256): filled in" in out
    assert f"wrote {folder / CARD_NAME}" in out
    assert main(["model", "register", str(folder), "--check"]) == 0
    assert "both digests verified" in capsys.readouterr().out
