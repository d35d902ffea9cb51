"""The authors' released models (xdw1995/123 at 40c31aa, built on r1c7/SlowFastNetworks @251a97a and
cypw/PyTorch-MFNet): parameter counts, structure and behaviour.

Every pinned count was computed from the authors' / anchors' own definitions in a scratch check
outside the project (their files instantiated as published, or with the named lines uncommented),
never from vipar's output; the source of each is named beside it.
"""
import pytest
import torch
import torch.nn as nn

from vipar_lib.engine.checkpoint import save_atomic, warm_start
from vipar_lib.models import ModelOptionError, create_model, list_models, model_options
from vipar_lib.models.blocks import ConvThenPool, NonLocal
from vipar_lib.models.info import count_params
from vipar_lib.models.slowfast_release import RELEASE_DROPOUT, RELEASE_FINAL
from vipar_lib.models.tsm import TSM_RELEASE, frames_to_images
from vipar_lib.paper import paper_rows

R1C7 = "r1c7/SlowFastNetworks lib/slowfastnet.py"
REL = "xdw1995/123 libb/slowfastnet.py"

# (options, R50 count, R101 count, source) at 101 classes.
RELEASE_COUNTS = {
    "r1c7": ({}, 33_789_992, 62_136_744, f"{R1C7}:185-196 resnet50/101(class_num=101)"),
    "r1c7+non_local": (dict(non_local=True), 34_860_136, 63_206_888,
                       f"{R1C7} + 2x NONLocalBlock3D(512) + 2x NONLocalBlock3D(64) (libb/non_local.py:106-111), "
                       f"the blocks {REL}:106-112,145-151 adds"),
    "r1c7+t+o": (dict(fast_stem="t+o"), 33_785_057, 62_131_809,
                 f"{R1C7} + ({REL} TplusO=True - {REL}), the stem of {REL}:81-92"),
    "r1c7+t+s (+2plus1D)": (dict(conv_a="t+s"), 72_717_928, 141_799_400,
                            f"{REL}:279-290 resnet50/101(class_num=101) (ELU and POOL add no parameters)"),
    "final": (RELEASE_FINAL, 72_717_928, 141_799_400, f"{REL}:279-290 resnet50/101(class_num=101)"),
    "final+non_local": ({**RELEASE_FINAL, "non_local": True}, 73_788_072, 142_869_544,
                        f"{REL} with line 8 (the NL3DWrapper_xdw import) enabled, non_local=True"),
    "final+t+o": ({**RELEASE_FINAL, "fast_stem": "t+o"}, 72_712_993, 141_794_465, f"{REL} TplusO=True"),
    "t+s+st": (dict(conv_a="t+s+st"), 188_682_456, 379_977_880,
               f"{REL} with lines 25-26, 44-47, 55-56 uncommented and self.non = self.conv3x3"),
    "t+s+st+attention": (dict(conv_a="t+s+st", st_attention=True), 191_096_996, 384_677_492,
                         f"{REL} with lines 8, 25-27, 44-47, 55-56 uncommented (the kxkxk branch in NL3DWrapper_xdw)"),
    "t+st": (dict(conv_a="t+st"), 149_754_520, 300_315_224,
             f"{R1C7} + the kxkxk branch of {REL}:25-26,44-47,55-56 (release t+s+st - release)"),
    "t+st+attention": (dict(conv_a="t+st", st_attention=True), 152_169_060, 305_014_836,
                       f"{R1C7} + the commented branch of {REL}:25-27,44-47,55-56 with its non-local block"),
}
# Table 1 under the release reading -> the count its options must give (T1.6, TAM, has no release definition);
# "T1.7-<name>": the row's documented alternatives (paper_tables.yaml `release_alternatives`).
TABLE1_COUNTS = {"T1.1": "r1c7", "T1.2": "r1c7+non_local", "T1.3": "r1c7+t+s (+2plus1D)", "T1.4": "r1c7",
                 "T1.5": "r1c7+non_local", "T1.7": "t+s+st+attention", "T1.7-no_nonlocal": "t+s+st",
                 "T1.7-released_final": "final", "T1.8": "t+st+attention"}
TINY_RELEASE = dict(width=16, depths=[1, 1, 1, 1], alpha=4, beta=2, num_frames=8)


def _count(name, **opts):
    with torch.device("meta"):                      # count without allocating (up to 385 M parameters)
        return count_params(create_model(name, num_classes=101, **opts))


@pytest.mark.parametrize("key", list(RELEASE_COUNTS))
@pytest.mark.parametrize("depth", [50, 101])
def test_release_slowfast_parameter_counts(key, depth):
    opts, r50, r101, _source = RELEASE_COUNTS[key]
    assert _count(f"slowfast_release_r{depth}", **opts) == {50: r50, 101: r101}[depth]


# Table 1 under the release reading, as transcribed (paper_tables.yaml `release`), plus each row's documented
# alternatives: T1.7 without the non-local wrap, and the released network itself, which Table 2 names
# "+ELU+POOL+(3*3+3*1+1*3)" at T1.7's 73.5
TABLE1_RELEASE = {r["id"]: r["release"] for r in paper_rows("table1")} | {
    f"{r['id']}-{name}": opts for r in paper_rows("table1") for name, opts in r.get("release_alternatives", {}).items()}


@pytest.mark.parametrize("row", list(TABLE1_COUNTS))
def test_table1_release_reading_counts(row):
    opts, r50, r101, _ = RELEASE_COUNTS[TABLE1_COUNTS[row]]
    mapped = {k: v for k, v in TABLE1_RELEASE[row].items()}
    assert _count("slowfast_release_r50", **mapped) == r50
    assert _count("slowfast_release_r101", **mapped) == r101


def test_table1_release_mapping_rows():
    assert set(TABLE1_RELEASE) == {f"T1.{i}" for i in range(1, 9)} | {"T1.7-no_nonlocal", "T1.7-released_final"}
    assert TABLE1_RELEASE["T1.7-released_final"] == RELEASE_FINAL
    # T1.7 as the release's lines run it: the 3x3x3 branch inside the non-local block (release:25-27, 44-47, 55-56)
    assert TABLE1_RELEASE["T1.7"] == {**TABLE1_RELEASE["T1.7-no_nonlocal"], "st_attention": True}
    tam = _count("slowfast_release_r50", **TABLE1_RELEASE["T1.6"])
    assert tam > RELEASE_COUNTS["r1c7"][1]          # TAM: vipar's module, no release count to pin


def test_r2plus1d_34_release_count_and_frozen_bn():
    # xdw1995/123 libb/R2_1D.py:930-942 model_r3d(101) (depth 34, ResNet_R3D + resnet_r3d_utils.py)
    assert _count("r2plus1d_34_release") == 63_543_788
    m = create_model("r2plus1d_34_release", num_classes=5, width=8, depths=[1, 1, 1, 1]).train()
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm3d)]
    assert bns and not any(b.training or b.weight.requires_grad for b in bns)   # ResNet_R3D.train :847-855
    before = [b.running_mean.clone() for b in bns]
    m(torch.randn(2, 3, 8, 32, 32)).sum().backward()
    assert all(torch.equal(a, b.running_mean) for a, b in zip(before, bns))
    m2 = create_model("r2plus1d_34_release", num_classes=5, width=8, depths=[1, 1, 1, 1], frozen_bn=False).train()
    assert all(b.training and b.weight.requires_grad for b in m2.modules() if isinstance(b, nn.BatchNorm3d))


@pytest.mark.parametrize("name", ["slowfast_release_r50", "slowfast_release_r101"])
def test_release_forward_at_64x112(name):
    """One 64-frame clip in; the fast pathway reads every 2nd frame (32), the slow one every 16th (4)."""
    m = create_model(name, **RELEASE_FINAL).eval()
    seen = {}
    m.fast_stem[0].register_forward_pre_hook(lambda mod, a: seen.__setitem__("fast", a[0].shape[2]))
    m.slow_stem[0].register_forward_pre_hook(lambda mod, a: seen.__setitem__("slow", a[0].shape[2]))
    m.laterals[0].register_forward_hook(lambda mod, a, o: seen.__setitem__("lateral", o.shape[2]))
    with torch.no_grad():
        out = m(torch.randn(2, 3, 64, 112, 112))
    assert out.shape == (2, 101) and torch.isfinite(out).all()
    assert seen == {"fast": 32, "slow": 4, "lateral": 4}


def test_release_structure():
    m = create_model("slowfast_release_r50", **RELEASE_FINAL, **TINY_RELEASE)
    assert m.fc.bias is None and m.dropout.p == 0.6
    for lat in m.laterals:                          # conv + temporal max-pool, no BN, no activation (release:128-135)
        assert type(lat) is ConvThenPool and lat.stride == (1, 1, 1)
        assert lat.kernel_size == (5, 1, 1) and lat.pool.kernel_size == (5, 1, 1) and lat.pool.stride == (4, 1, 1)
    assert m.slow_stem[0].pool.kernel_size == (1, 7, 7) and m.fast_stem[0].pool.kernel_size == (5, 7, 7)
    blocks = [b for stage in (*m.slow, *m.fast) for b in stage]
    for b in blocks:                                # every conv b has its 1x3x3 max-pool, stride 1 or 2
        assert b.b[0].stride == (1, 1, 1) and b.b[0].pool.kernel_size == (1, 3, 3)
    assert {b.b[0].pool.stride for b in blocks} == {(1, 1, 1), (1, 2, 2)}
    acts = {type(x) for x in m.modules() if isinstance(x, (nn.ReLU, nn.ELU))}
    assert acts == {nn.ELU}
    r1c7 = create_model("slowfast_release_r50", **TINY_RELEASE)
    assert not any(isinstance(x, (nn.MaxPool3d, nn.ELU)) for b in r1c7.slow for x in b.modules())
    assert all(isinstance(lat, nn.Conv3d) and lat.stride == (4, 1, 1) for lat in r1c7.laterals)


def test_pool_shortcut_subsamples_like_a_strided_conv():
    """The release's shortcut max-pool has kernel 1: the same function as r1c7's strided 1x1 conv."""
    a = create_model("slowfast_release_r50", **TINY_RELEASE).slow[1][0].shortcut.eval()
    b = create_model("slowfast_release_r50", downsample="pool", **TINY_RELEASE).slow[1][0].shortcut.eval()
    b[0].weight.data.copy_(a[0].weight.data)
    x = torch.randn(2, a[0].in_channels, 2, 9, 9)
    assert torch.allclose(a(x), b(x), atol=1e-6)


@pytest.mark.parametrize("name", [n for n in list_models() if "downsample" in model_options(n)])
def test_every_downsample_keeps_the_weights_names_so_a_warm_start_loads_them_all(name, tmp_path):
    """Table 1's ELU+POOL row is warm-started from the base model: changing ``downsample`` adds no
    parameter and must rename none, or the row's convs would silently start from random weights."""
    opt = model_options(name)["downsample"]
    small = dict(width=16, depths=[1, 1, 1, 1], alpha=4, beta=2, num_frames=8) if "slowfast" in name else {}
    base = create_model(name, num_classes=10, **small)
    save_atomic({"model": base.state_dict()}, tmp_path / "base.pt")
    for choice in opt.choices:
        torch.manual_seed(1)
        row = create_model(name, num_classes=10, downsample=choice, **small)
        report = warm_start(row, tmp_path / "base.pt")
        assert not report["missing"] and not report["unexpected"] and not report["shape_mismatch"], (choice, report)
        assert all(torch.equal(row.state_dict()[k], v) for k, v in base.state_dict().items())


@pytest.mark.parametrize("row", [r for r in TABLE1_RELEASE if r != "T1.6"])
def test_release_table1_rows_use_every_base_weight(row, tmp_path):
    """Under the release reading each Table-1 row only adds to r1c7's network (branches, blocks, pools),
    so a warm start from the base must place every base tensor; only the added modules start fresh."""
    base = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE)
    save_atomic({"model": base.state_dict()}, tmp_path / "base.pt")
    opts = {k: v for k, v in TABLE1_RELEASE[row].items() if k != "dropout"}
    row_model = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE, **opts)
    report = warm_start(row_model, tmp_path / "base.pt")
    assert report["loaded"] == len(base.state_dict()), report
    assert not report["unexpected"] and not report["shape_mismatch"]


def test_release_conv_a_branches_sum_before_one_bn():
    """t+s: the kx1x1 and 1xkxk convs of conv a are summed, then one BN and the activation (release:49-53);
    t+s+st adds a kxkxk conv with its own BN and activation after that (release:43-47, 54-57)."""
    torch.manual_seed(0)
    m = create_model("slowfast_release_r50", conv_a="t+s+st", **TINY_RELEASE).eval()
    a = m.slow[2][0].a                               # res4 of the slow pathway: k = 3
    t, s_conv = a[0], a[0].branches[0]
    x = torch.randn(2, t.in_channels, 4, 6, 6)
    ts = nn.functional.conv3d(x, t.weight, padding=t.padding) + s_conv(x)
    assert torch.allclose(a[0](x), ts, atol=1e-5)
    assert torch.allclose(a(x), a[2](a[1](ts)) + a.branch(x), atol=1e-5)
    assert t.kernel_size == (3, 1, 1) and s_conv.kernel_size == (1, 3, 3) and a.branch[0].kernel_size == (3, 3, 3)


def test_release_non_local_matches_alexhex7():
    """libb/non_local.py:64-87: phi/g pooled after their convs, softmax of the unscaled affinity."""
    torch.manual_seed(0)
    nl = NonLocal(8, scaled=False, pool_first=False).eval()
    nn.init.ones_(nl.bn.weight)
    x = torch.randn(2, 8, 2, 6, 6)
    pool = nn.MaxPool3d((1, 2, 2))
    theta = nl.theta(x).flatten(2).transpose(1, 2)
    phi, g = pool(nl.phi(x)).flatten(2), pool(nl.g(x)).flatten(2).transpose(1, 2)
    y = (torch.softmax(theta @ phi, -1) @ g).transpose(1, 2).reshape(2, 4, 2, 6, 6)
    assert torch.allclose(nl(x), x + nl.bn(nl.out(y)), atol=1e-6)
    pyslowfast = NonLocal(8).eval()
    pyslowfast.load_state_dict(nl.state_dict())
    assert not torch.allclose(pyslowfast(x), nl(x))


def test_st_attention_needs_the_st_branch():
    with pytest.raises(ModelOptionError, match="option st_attention=true needs the st branch; use conv_a=t\\+st"):
        create_model("slowfast_release_r50", st_attention=True)


def _table1_text_rows():
    return {r["id"]: r["options"] for r in paper_rows("table1")}


@pytest.mark.parametrize("depth,depths", [(50, [1, 1, 1, 1]), (101, [1, 1, 2, 1])])
@pytest.mark.parametrize("reading", ["text", "release"])
def test_table1_rows_build_distinct_networks_at_demo_size(reading, depth, depths):
    """No Table-1 row may silently build another row's network at the demo size (or must be refused)."""
    rows = _table1_text_rows() if reading == "text" else TABLE1_RELEASE
    name = f"slowfast_r{depth}" if reading == "text" else f"slowfast_release_r{depth}"
    tiny = dict(width=16, depths=depths, alpha=4, beta=2, num_frames=8)
    built = {}
    for row, opts in rows.items():
        try:
            structure = {k: v for k, v in opts.items() if k != "dropout"}    # a dropout alone is no new network
            built[row] = repr(create_model(name, num_classes=10, **tiny, **structure))
        except ModelOptionError as e:               # refusing is allowed; silently equal is not
            assert any(f"option {k}" in str(e) for k in structure), str(e)
    assert len(built) >= len(rows) - 1
    same = [(a, b) for a in built for b in built if a < b and built[a] == built[b]]
    assert not same, f"{name}: rows build the same network at depths={depths}: {same}"


def test_tsm_release_layout_is_the_release_view():
    """frame_layout='release' is TSN.forward's input.view(-1, 3, H, W) on (N, 3, T, H, W) (TSM.py:334)."""
    x = torch.arange(2 * 3 * 4 * 2 * 2, dtype=torch.float32).view(2, 3, 4, 2, 2)
    assert torch.equal(frames_to_images(x, "release"), x.view(-1, 3, 2, 2))
    assert torch.equal(frames_to_images(x, "clip")[5], x[1, :, 1])          # clip 1, frame 1
    mixed = frames_to_images(x, "release")[1]                               # R3, G0, G1 of clip 0
    assert torch.equal(mixed, torch.stack([x[0, 0, 3], x[0, 1, 0], x[0, 1, 1]]))
    torch.manual_seed(0)
    rel = create_model("tsm_r50", num_classes=5, width=8, depths=[1, 1, 1, 1], frame_layout="release").eval()
    clip = create_model("tsm_r50", num_classes=5, width=8, depths=[1, 1, 1, 1]).eval()
    clip.load_state_dict(rel.state_dict())
    v = torch.randn(2, 3, 4, 32, 32)
    as_clip = v.contiguous().view(2 * 4, 3, 32, 32).view(2, 4, 3, 32, 32).transpose(1, 2)
    assert torch.allclose(rel(v), clip(as_clip), atol=1e-6)
    assert not torch.allclose(rel(v), clip(v), atol=1e-4)


def test_tsm_partial_bn_freezes_all_but_the_first_bn():
    m = create_model("tsm_r50", num_classes=5, width=8, depths=[1, 1, 1, 1], **TSM_RELEASE).train()
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    assert bns[0] is m.stem[1] and bns[0].training and bns[0].weight.requires_grad
    assert not any(b.training or b.weight.requires_grad or b.bias.requires_grad for b in bns[1:])
    assert all((b.weight == 1).all() for b in bns)                         # torchvision init, no zero-init
    before = [b.running_mean.clone() for b in bns]
    m(torch.randn(2, 3, 4, 32, 32)).sum().backward()
    assert not torch.equal(before[0], bns[0].running_mean)
    assert all(torch.equal(a, b.running_mean) for a, b in zip(before[1:], bns[1:]))
    assert m.dropout.p == 0.8 and m.fc.bias.abs().sum() == 0 and m.fc.weight.std() < 0.003
    m.eval()
    assert not any(b.training for b in bns)
    with pytest.raises(ModelOptionError, match="partial_bn=true with zero_init_residual=true"):
        create_model("tsm_r50", partial_bn=True)


# -- the release reading's settings (issue 20) ---------------------------------------------------------
def test_release_dropout_per_table1_row():
    """T1.1 is r1c7's network, dropout 0.5 (r1c7:55); every other row adds a part of the release's
    libb/slowfastnet.py, whose SlowFast defaults to 0.6 (:76) and no release script passes another."""
    assert RELEASE_DROPOUT == 0.6 and RELEASE_FINAL["dropout"] == RELEASE_DROPOUT
    assert model_options("slowfast_release_r50")["dropout"].default == 0.5
    for row, opts in TABLE1_RELEASE.items():
        m = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE, **opts)
        assert m.dropout.p == (0.5 if row == "T1.1" else 0.6), row


def test_release_t1_7_runs_its_3x3x3_branch_inside_the_non_local_block():
    """release:45 calls ``self.non``, which only line 27 defines: NL3DWrapper_xdw(conv3x3) -> bn3x3 -> ELU."""
    m = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE, **TABLE1_RELEASE["T1.7"])
    k3 = [b.a for stage in (*m.slow, *m.fast) for b in stage if hasattr(b.a, "branch")]
    assert len(k3) == 6                             # k = 3: slow res4-res5, fast res2-res5 (one block each)
    for a in k3:
        conv, nl, bn, act = a.branch
        assert conv.kernel_size == (3, 3, 3) and isinstance(nl, NonLocal)
        assert nl.scale == 1.0 and not nl.pool_first          # the release's block (libb/non_local.py)
        assert isinstance(bn, nn.BatchNorm3d) and isinstance(act, nn.ELU)
    alt = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE, **TABLE1_RELEASE["T1.7-no_nonlocal"])
    assert not any(isinstance(x, NonLocal) for x in alt.modules())


def test_the_release_in_place_sum_cannot_backpropagate_and_vipars_trains():
    """release:53-56 as written: ``out = self.relu(out)`` (an in-place ELU) then ``out +=out_3x3``. Autograd
    needs the ELU's output for its gradient, so the in-place sum makes backward fail; vipar's conv a sums
    out of place, and every branch gets a gradient."""
    torch.manual_seed(0)
    m = create_model("slowfast_release_r50", num_classes=10, **TINY_RELEASE, **TABLE1_RELEASE["T1.7"]).train()
    a = m.fast[1][0].a                               # fast res3: k = 3, the st branch present
    x = torch.randn(2, a[0].in_channels, 4, 6, 6)
    out = a[1](a[0](x))                              # t+s convs, bn1
    out = nn.functional.elu(out, inplace=True)       # self.relu = nn.ELU(inplace=True) (release:37)
    out += a.branch(x)                               # release:56
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    m.zero_grad()
    a(x).square().mean().backward()
    grads = {name: p.grad for name, p in a.named_parameters()}
    assert all(g is not None for g in grads.values())
    # the t, s and 3x3x3 convs learn; inside the non-local block only its zero-initialised output BN does at first
    for name in ("0.weight", "0.branches.0.weight", "branch.0.weight", "branch.1.bn.weight", "branch.2.weight"):
        assert grads[name].abs().sum() > 0, name


def _default_bound(conv: nn.Conv3d) -> float:
    """PyTorch's default conv init: kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return conv.weight[0].numel() ** -0.5


def test_mfnet_release_keeps_pytorchs_default_initialisation():
    """libb/MFnet.py:148 comments out ``initializer.xavier(net=self)`` (and :10-13 its import): the release's
    MFNet keeps PyTorch's layer defaults; vipar's text-reading MFNet uses Kaiming-normal (fan-out) convs."""
    torch.manual_seed(0)
    rel = create_model("mfnet_3d_release", num_classes=10)
    torch.manual_seed(0)
    txt = create_model("mfnet_3d", num_classes=10)
    assert rel.vipar_options["init"] == "pytorch" and txt.vipar_options["init"] == "kaiming"
    assert count_params(rel) == count_params(txt)
    rel_convs = [c for c in rel.modules() if isinstance(c, nn.Conv3d)]
    txt_convs = [c for c in txt.modules() if isinstance(c, nn.Conv3d)]
    assert all(c.weight.abs().max() <= _default_bound(c) + 1e-7 for c in rel_convs)
    for rc, tc in zip(rel_convs, txt_convs):        # the stds of the two schemes, on the larger convs
        if rc.weight.numel() >= 20_000:
            fan_in, fan_out = rc.weight[0].numel(), rc.weight.shape[0] * rc.weight[0, 0].numel()
            assert rc.weight.std().item() == pytest.approx((3 * fan_in) ** -0.5, rel=0.05)
            assert tc.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    torch.manual_seed(0)
    same = create_model("mfnet_3d", num_classes=10, init="pytorch")
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), rel.state_dict().values()))
