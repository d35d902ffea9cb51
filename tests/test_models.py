import pytest
import torch

from vipar_lib.models import ModelOptionError, create_model, list_models
from vipar_lib.models.info import count_params, model_info
from vipar_lib.models.tsm import temporal_shift

TINY = {"slowfast": dict(width=8, depths=[1, 1, 1, 1], num_frames=8),
        "tsm": dict(width=8, depths=[1, 1, 1, 1]),
        "3d-resnet": dict(width=8, depths=[1, 1, 1, 1]),
        "mfnet": dict(width=16, groups=4, depths=[1, 1, 1, 1])}
TABLE1 = [dict(), dict(non_local=True), dict(conv="2plus1d"), dict(activation="elu", downsample="pool"),
          dict(activation="elu", downsample="pool", non_local=True),
          dict(activation="elu", downsample="pool", temporal_module="tam"),
          dict(activation="elu", downsample="pool", conv="tri"), dict(activation="elu", downsample="pool", conv="acnet"),
          dict(attention="st"), dict(attention="se")]


def _tiny(name, **opts):
    from vipar_lib.models import model_spec
    return create_model(name, num_classes=5, **{**TINY[model_spec(name).family], **opts})


def _step(model, x):
    model.train()
    out = model(x)
    assert out.shape == (x.shape[0], 5) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("input_type", ["rgb", "diff"])
def test_every_model_trains_a_step(name, input_type):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 32, 32)
    if input_type == "diff":
        x = x[:, :, 1:] - x[:, :, :-1]
    _step(_tiny(name), x)


@pytest.mark.parametrize("opts", TABLE1, ids=lambda o: "+".join(f"{k}={v}" for k, v in o.items()) or "base")
def test_every_table1_option_trains_a_step(opts):
    torch.manual_seed(0)
    _step(_tiny("slowfast_r50", **opts), torch.randn(2, 3, 8, 32, 32))


def test_tam_handles_other_clip_lengths():
    m = _tiny("slowfast_r50", temporal_module="tam").eval()
    assert m(torch.randn(1, 3, 16, 32, 32)).shape == (1, 5)     # concat normal+reverse doubles T


@pytest.mark.parametrize("name,count", [("slowfast_r50", 33_877_293), ("slowfast_r101", 62_137_773),
                                        ("tsm_r50", 23_714_981), ("r3d_18", 33_218_085),
                                        ("r2plus1d_18", 31_351_938)])
def test_anchor_parameter_counts(name, count):
    assert count_params(create_model(name, num_classes=101)) == count


def test_shift_adds_no_parameters_and_options_change_structure():
    assert count_params(create_model("tsm_r50", shift=False)) == 23_714_981
    base = count_params(create_model("slowfast_r50"))
    # pooling downsampling and ELU are parameter-free; the others add parameters
    assert count_params(create_model("slowfast_r50", downsample="pool", activation="elu")) == base
    for o in [dict(non_local=True), dict(conv="tri"), dict(attention="se"), dict(temporal_module="tam")]:
        assert count_params(create_model("slowfast_r50", **o)) > base


def _reference_shift(x, n_segment, fold_div):
    nt, c, h, w = x.shape
    x = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    for t in range(n_segment):
        if t + 1 < n_segment:
            out[:, t, :fold] = x[:, t + 1, :fold]
        if t > 0:
            out[:, t, fold:2 * fold] = x[:, t - 1, fold:2 * fold]
        out[:, t, 2 * fold:] = x[:, t, 2 * fold:]
    return out.view(nt, c, h, w)


def test_temporal_shift_semantics():
    x = torch.randn(2 * 4, 16, 3, 3)
    y = temporal_shift(x, 4, fold_div=8)
    assert torch.equal(y, _reference_shift(x, 4, 8))
    v = x.view(2, 4, 16, 3, 3)
    yv = y.view(2, 4, 16, 3, 3)
    assert torch.equal(yv[:, 0, :2], v[:, 1, :2]) and (yv[:, -1, :2] == 0).all()      # from the next frame
    assert torch.equal(yv[:, 1, 2:4], v[:, 0, 2:4]) and (yv[:, 0, 2:4] == 0).all()    # from the previous one
    assert torch.equal(yv[:, :, 4:], v[:, :, 4:])


def test_tsm_shift_placement_and_single_frame_mode():
    r50, r101 = create_model("tsm_r50"), create_model("tsm_r101")
    assert len(r50.shifts) == 16 and len(r101.shifts) == 2 + 2 + 12 + 2   # every other block in R101
    assert len(create_model("tsm_r50", shift=False).shifts) == 0
    torch.manual_seed(0)
    shifted = _tiny("tsm_r50").eval()
    plain = _tiny("tsm_r50", shift=False).eval()
    plain.load_state_dict(shifted.state_dict())          # same weights: shifting has no parameters
    for m in (shifted, plain):                           # non-zero final BN so blocks matter
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                torch.nn.init.ones_(mod.weight)
    one = torch.randn(2, 3, 1, 32, 32)
    assert torch.allclose(shifted(one), plain(one))      # single-frame mode: a plain 2D ResNet
    clip = torch.randn(2, 3, 4, 32, 32)
    assert not torch.allclose(shifted(clip), plain(clip))


def test_option_errors_name_allowed_values():
    with pytest.raises(ModelOptionError, match="unknown model 'slowfast_r18'.*registered"):
        create_model("slowfast_r18")
    with pytest.raises(ModelOptionError, match=r"unknown option\(s\) \['nonlocal'\]; allowed: \[.*'non_local'"):
        create_model("slowfast_r50", **{"nonlocal": True})
    with pytest.raises(ModelOptionError, match=r"conv='2\+1d' not allowed; allowed: \['3d', '2plus1d', 'tri', 'acnet'\]"):
        create_model("slowfast_r50", conv="2+1d")
    with pytest.raises(ModelOptionError, match="must be true or false"):
        create_model("tsm_r50", shift="yes")


def test_model_info_reports_flops_and_shape():
    info = model_info("slowfast_r50", num_classes=101, frames=8, size=32, width=8, depths=[1, 1, 1, 1], num_frames=8)
    assert info["input_shape"] == [1, 3, 8, 32, 32] and info["gflops"] > 0 and info["params"] > 0
