import pytest
import torch

from genzoo.nn.masked import MaskedConv2d, MaskedLinear, spatial_mask
from genzoo.nn.skew import skew, unskew


def test_spatial_masks():
    a = spatial_mask((3, 3), "A")
    b = spatial_mask((3, 3), "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert spatial_mask((1, 3), "B").tolist() == [[1, 1, 0]]
    with pytest.raises(ValueError):
        spatial_mask((3, 3), "C")
    with pytest.raises(ValueError):
        spatial_mask((2, 2), "A")


def test_masked_linear_mask_shape_checked():
    with pytest.raises(ValueError):
        MaskedLinear(3, 4, torch.ones(3, 4))
    layer = MaskedLinear(3, 3, torch.tril(torch.ones(3, 3), -1))
    x = torch.randn(2, 3, requires_grad=True)
    layer(x)[:, 0].sum().backward()
    assert torch.all(x.grad == 0)  # the first output sees no input


def test_skew_places_row_i_at_offset_i_and_unskew_inverts():
    x = torch.randn(2, 3, 4, 5)
    s = skew(x)
    assert s.shape == (2, 3, 4, 8)
    for i in range(4):
        assert torch.equal(s[:, :, i, i: i + 5], x[:, :, i])
        assert torch.all(s[:, :, i, :i] == 0) and torch.all(s[:, :, i, i + 5:] == 0)
    assert torch.equal(unskew(s), x)
    with pytest.raises(ValueError):
        unskew(s, width=3)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_at_matches_full_convolution(mask_type):
    conv = MaskedConv2d(2, 3, 5, mask_type).double()
    x = torch.randn(4, 2, 6, 7, dtype=torch.float64)
    full = conv(x)  # (4, 3, 6, 7)
    cache = conv.new_cache(4, 6, 7, x)
    for r in range(6):
        for c in range(7):
            conv.write(cache, x[:, :, r, c], r, c)
    for r in range(6):
        for c in range(7):
            torch.testing.assert_close(conv.at(cache, r, c), full[:, :, r, c])
