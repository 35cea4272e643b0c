"""The winners' regularisation in the recipes: late dropout, mixup in feature space, EMA
weights; and stochastic weight averaging."""

import json
from types import SimpleNamespace

import pytest
import torch
from conftest import copy_run, small_run_config

from signpose.errors import SignposeError
from signpose.learn.evaluation import evaluate
from signpose.learn.lightning import (
    LateDropout,
    LitSignClassifier,
    SignerAdversary,
    StochasticWeightAverage,
    dann_weight,
    ema_decay,
    swa_first_step,
)
from signpose.learn.training import train
from signpose.model.recipes import Recipe
from signpose.model.runs import load_classifier
from signpose.settings import build


def test_a_run_with_late_dropout_mixup_and_ema_keeps_the_averaged_weights(tmp_path, synth_small):
    config = small_run_config(recipe={"name": "islr-winners", "epochs": 6, "lr": 2e-3})
    assert (config.recipe.late_dropout, config.recipe.mixup, config.recipe.ema_epochs) == (0.8, 0.2, 1.0)
    run = tmp_path / "run"
    train(synth_small, run, config, progress=False)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    averaged, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    kept = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    name = "model.classifier.weight"
    assert torch.equal(kept[name], averaged[f"classifier.{name}"])  # the run keeps the average
    assert not torch.equal(kept[name], raw[f"classifier.{name}"])  # which is not the last step's
    assert evaluate(run).accuracy > 0.4  # chance is 0.2
    saved = json.loads((run / "config.json").read_text())["recipe"]
    assert (saved["late_dropout"], saved["mixup"], saved["ema_epochs"]) == (0.8, 0.2, 1.0)


def test_swa_keeps_the_equal_average_of_the_last_steps_and_validates_the_current_weights_before():
    """On a real (tiny) Lightning fit: 3 epochs of 4 steps, the last half averaged. The
    weights kept are the mean of those after steps 6-11; validation before the window sees
    the weights as they are (not the untrained copy), inside it the average so far."""
    import lightning as L

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def validation_step(self, batch, _):
            pass

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Record(L.Callback):
        def __init__(self):
            self.after_step, self.validated = [], []

        def on_train_batch_end(self, trainer, module, *_):
            self.after_step.append(module.layer.weight.detach().clone())

        def on_validation_epoch_start(self, trainer, module):
            self.validated.append(module.layer.weight.detach().clone())

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=generator)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    recipe = build(Recipe, {"epochs": 3, "swa": 0.5})
    swa, record, module = StochasticWeightAverage(swa_first_step(recipe, 4)), Record(), Tiny()
    assert swa.first_step == 6
    trainer = L.Trainer(max_epochs=3, callbacks=[swa, record], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(module, data, data)
    steps = torch.stack(record.after_step)
    assert len(steps) == 12
    assert torch.allclose(module.layer.weight, steps[6:].mean(0), atol=1e-6)  # kept: the window's mean
    assert not torch.allclose(module.layer.weight, steps[-1], atol=1e-4)  # not the last step's
    assert torch.equal(record.validated[0], steps[3])  # epoch 1 (before the window): the weights as they are
    assert torch.allclose(record.validated[1], steps[6:8].mean(0), atol=1e-6)  # epoch 2: the average so far


def test_a_run_with_swa_keeps_the_average_and_refuses_it_beside_ema(tmp_path, synth_small):
    config = small_run_config(recipe={"epochs": 4, "lr": 2e-3, "swa": 0.25})
    run = tmp_path / "run"
    train(synth_small, run, config, progress=False)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    kept = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    name = "model.classifier.weight"
    assert torch.equal(kept[name], checkpoint["state_dict"][f"classifier.{name}"])
    assert not torch.equal(kept[name], checkpoint["current_model_state"][f"classifier.{name}"])
    assert evaluate(run).accuracy > 0.4  # chance is 0.2
    assert json.loads((run / "config.json").read_text())["recipe"]["swa"] == 0.25
    with pytest.raises(SignposeError, match="swa and ema_epochs both average the weights"):
        build(Recipe, {"swa": 0.25, "ema_epochs": 1.0})


def test_late_dropout_is_off_until_its_epoch_then_high(small_run):
    classifier, _, config = load_classifier(small_run)
    module = LitSignClassifier(classifier, config.recipe)
    late = LateDropout(0.8, start_epoch=2)
    rates = []
    for epoch in range(4):
        late.on_train_epoch_start(SimpleNamespace(current_epoch=epoch), module)
        rates.append(classifier.model.head_dropout.p)
    assert rates == [0.0, 0.0, 0.8, 0.8]


def test_mixup_mixes_features_and_labels_of_two_samples(small_run):
    classifier, _, config = load_classifier(small_run)
    classifier.eval()  # no dropout: the only randomness left is mixup's own
    module = LitSignClassifier(classifier, config.recipe.replace(mixup=0.4, label_smoothing=0.0))
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(6, 30, classifier.features.n_points, 2, generator=generator)
    mask = torch.ones(points.shape[:3], dtype=torch.bool)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    torch.manual_seed(3)
    logits, loss = module._mixup_step(points, mask, y, module._draw_mixup(y))
    torch.manual_seed(3)
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    other = torch.randperm(6)
    x, frames = classifier.features(points, mask)
    expected = classifier.model(lam * x + (1 - lam) * x[other], frames)
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(logits, expected, atol=1e-5)
    assert torch.allclose(loss, lam * ce(expected, y) + (1 - lam) * ce(expected, y[other]), atol=1e-5)
    assert 0 < lam < 1 and not torch.equal(other, torch.arange(6))


def test_ema_spans_the_asked_epochs_whatever_the_data_size():
    recipe = build(Recipe, {"ema_epochs": 1.0})
    assert ema_decay(recipe, 1000) == pytest.approx(0.999)  # the ISLR solutions' decay at their size
    assert ema_decay(recipe, 10) == pytest.approx(0.9)


def test_late_dropout_on_a_model_without_a_head_dropout_is_refused_before_writing(tmp_path, synth_small):
    config = small_run_config(model="lstm", model_options={}, recipe={"late_dropout": 0.5, "epochs": 1})
    with pytest.raises(SignposeError, match="model 'lstm' has no dropout before its classifier"):
        train(synth_small, tmp_path / "run", config, progress=False)
    assert not (tmp_path / "run").exists()


def test_a_run_saved_before_a_setting_existed_is_still_the_same_run(small_run, synth_small, tmp_path):
    """A finished run whose config.json predates a setting (here the winners' regularisation)
    is recognised as finished, not refused as made with other settings."""
    old = copy_run(small_run, tmp_path / "old")
    saved = json.loads((old / "config.json").read_text())
    for field in ("mixup", "ema_epochs", "late_dropout", "late_dropout_start"):
        del saved["recipe"][field]
    (old / "config.json").write_text(json.dumps(saved))
    info = train(synth_small, old, build(type(small_run_config()), saved), progress=False)
    assert info is not None and (old / "model.pt").read_bytes() == (small_run / "model.pt").read_bytes()


def test_a_saved_config_with_a_bad_value_names_its_file(small_run, synth_small, tmp_path):
    run = copy_run(small_run, tmp_path / "run")
    saved = json.loads((small_run / "config.json").read_text())
    saved["recipe"]["mixup"] = -1
    (run / "config.json").write_text(json.dumps(saved))
    message = f"{run / 'config.json'}: setting recipe.mixup \\(--mixup\\) must be >= 0"
    with pytest.raises(SignposeError, match=message):
        load_classifier(run)
    with pytest.raises(SignposeError, match=message):
        train(synth_small, run, small_run_config(), progress=False)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")  # a step outside a Trainer logs nowhere
def test_awp_takes_the_gradient_up_the_slope_and_steps_from_the_weights_it_had(small_run):
    """Adversarial weight perturbation: the step's loss is taken with each weight tensor
    moved 0.2 up its gradient (so it is higher), and the moves are undone before the
    optimizer steps, which then uses the gradient from the moved point."""
    classifier, _, config = load_classifier(small_run)
    classifier.eval()  # no dropout: both losses see the same network
    module = LitSignClassifier(classifier, config.recipe.replace(awp=0.2, awp_start=0.0, label_smoothing=0.0))
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(6, 30, classifier.features.n_points, 2, generator=generator)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    batch = (points, torch.ones(points.shape[:3], dtype=torch.bool), y, torch.full_like(y, -1))
    weights = {n: p.detach().clone() for n, p in module.named_parameters()}

    clean = module._logits_loss(batch, None)[1]
    clean.backward()
    clean_grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    module.zero_grad()

    adversarial = module.training_step(batch, 0)
    assert adversarial.item() > clean.item() + 1e-3
    moved = {n: (p.detach() - weights[n]).norm().item() for n, p in module.named_parameters() if n in clean_grads}
    # each tensor moved 0.2, less only where its gradient is ~0 (an attention key's bias)
    assert all(abs(m - 0.2) < 1e-3 for n, m in moved.items() if clean_grads[n].norm() > 1e-4)
    assert max(moved.values()) < 0.2 + 1e-3
    adversarial.backward()
    module.on_before_optimizer_step(None)
    for n, p in module.named_parameters():
        assert torch.allclose(p, weights[n], atol=1e-6), n  # back where it was
    name = "classifier.model.classifier.weight"
    assert not torch.allclose(dict(module.named_parameters())[name].grad, clean_grads[name])


@pytest.mark.slow
def test_a_run_with_awp_trains(tmp_path, synth_small):
    config = small_run_config(recipe={"name": "islr-awp", "epochs": 6, "lr": 2e-3})
    assert (config.recipe.awp, config.recipe.awp_start) == (0.2, 0.05)
    run = tmp_path / "run"
    train(synth_small, run, config, progress=False)
    assert evaluate(run).accuracy > 0.4  # chance is 0.2
    assert json.loads((run / "config.json").read_text())["recipe"]["awp"] == 0.2


def test_the_signer_adversary_learns_who_signs_and_hands_the_features_the_reverse():
    """DANN's gradient reversal: the adversary's own weights get the gradient that makes it
    better at telling signers apart; the features it reads get that gradient reversed and
    scaled by the weight of the moment."""
    torch.manual_seed(0)
    adversary = SignerAdversary(8, 3)
    features = torch.randn(5, 8, requires_grad=True)
    signers = torch.tensor([0, 1, 2, 0, 1])
    torch.nn.functional.cross_entropy(adversary(features, 0.5), signers).backward()
    reversed_grad = features.grad.clone()
    own = {n: p.grad.clone() for n, p in adversary.named_parameters()}
    features.grad = None
    adversary.zero_grad()
    torch.nn.functional.cross_entropy(adversary.net(features), signers).backward()
    assert torch.allclose(reversed_grad, -0.5 * features.grad)
    assert all(torch.equal(own[n], p.grad) for n, p in adversary.named_parameters())


def test_the_adversary_weight_rises_from_0_to_the_asked_one_as_dann_schedules_it():
    weights = [dann_weight(p, 0.3) for p in (0.0, 0.1, 0.5, 1.0)]
    assert weights[0] == 0.0 and weights == sorted(weights)
    assert weights[1] == pytest.approx(0.3 * 0.4621, abs=1e-4) and weights[-1] == pytest.approx(0.3, abs=1e-4)


def test_a_signer_adversarial_run_trains_saves_only_the_sign_model_and_recognises(tmp_path, synth_small):
    config = small_run_config(recipe={"epochs": 6, "lr": 2e-3, "signer_adversary": 1.0})
    run = tmp_path / "run"
    train(synth_small, run, config, progress=False)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    adversary = [k for k in checkpoint["state_dict"] if k.startswith("adversary.")]
    assert adversary and checkpoint["state_dict"]["adversary.net.2.weight"].shape[0] == 2  # signer1, signer2
    saved = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    assert not any("adversary" in k for k in saved)
    log = (run / "logs" / "csv" / "metrics.csv").read_text()
    assert "train_signer_acc" in log.splitlines()[0]
    assert evaluate(run).accuracy > 0.4  # chance is 0.2
    assert json.loads((run / "config.json").read_text())["recipe"]["signer_adversary"] == 1.0


def test_a_signer_adversary_with_one_training_signer_says_so_and_trains_without(tmp_path, capsys):
    from signpose.data.synth import synth_dataset

    two = synth_dataset(tmp_path / "two", signers=2, signs=5, reps=4, seed=1, progress=False)
    config = small_run_config(test_signer="signer2", recipe={"epochs": 2, "lr": 2e-3, "signer_adversary": 1.0})
    train(two, tmp_path / "run", config, progress=False)
    assert "needs 2 or more training signers, this run has one" in capsys.readouterr().err
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("adversary.") for k in checkpoint["state_dict"])
