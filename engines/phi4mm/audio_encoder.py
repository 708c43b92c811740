"""Padding-safe batched audio encoding for Phi-4-multimodal's native audio encoder.

transformers' `Phi4MultimodalAudioModel` lets padding leak into a batch's shorter recordings in
two places, so until now each recording was encoded on its own (one launch-bound encoder call
per recording):

- its attention mask is a boolean added to the relative-position bias
  (`hs_mask.unsqueeze(1) + relative_attention_bias`): a padded key gets +0 instead of -inf and
  is attended to;
- its NeMo subsampling (stride-2 convolutions) reads the frames past a row's end, which hold
  padding, where the recording alone would read the convolution's zero padding.

`encode_audio` runs the same modules with both fixed: before each stride-2 convolution the time
steps past the row's length (ceil(length / 2) after each stage) are zeroed, and the attention
mask is the native one with the dtype's minimum written over padded keys. The conformer's
depthwise convolutions are causal and per-position layers cannot leak, so each recording's
embeddings equal its embeddings alone (up to floating-point rounding of the batched kernels).
With one recording nothing is padded and the computation is the native one, bit for bit.

Recordings longer than the encoder's 500-frame chunk (about 40 s) are encoded alone through the
native forward, which unfolds them into chunks. The rest are encoded in calls of at most
ENCODER_ROW_FRAMES padded frames, shortest first, so the encoder's memory is bounded per call
rather than growing with the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers.models.phi4_multimodal.modeling_phi4_multimodal import (
    Phi4MultimodalAudioEmbedding,
    Phi4MultimodalAudioModel,
    Phi4MultimodalAudioNemoConvSubsampling,
)

# Subsampled frames the native encoder attends over at once; longer inputs are unfolded.
ENCODER_CHUNK_FRAMES = 500
# Padded feature frames (rows × the longest row's frames) encoded in one call. The subsampling's
# activations cost about 80 KiB per row-frame at full size in bf16, so this bounds a call's
# peak near 4 GiB however many recordings a chunk holds (a 1024 s chunk is ~100k row-frames).
ENCODER_ROW_FRAMES = 50_000


def _zero_past(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`hidden` [batch, channels, time, freq] with every time step at or past a row's length set to 0."""
    past = torch.arange(hidden.shape[2], device=hidden.device)[None, :] >= lengths[:, None]
    return hidden.masked_fill(past[:, None, :, None], 0.0)


def subsample(embed: Phi4MultimodalAudioNemoConvSubsampling, features: torch.Tensor, lengths: torch.Tensor):
    """The native subsampling of `features` [batch, frames, mel] with rows of `lengths` frames,
    reading zeros (as a row alone does) instead of its batch-mates' padding; returns the hidden
    states [batch, frames/8, hidden] and each row's subsampled length."""
    hidden = features.unsqueeze(1)
    padded = bool((lengths < features.shape[1]).any())
    for layer in embed.conv:
        if isinstance(layer, nn.Conv2d) and layer.stride[0] == 2:
            if padded:
                hidden = _zero_past(hidden, lengths)
            lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
        hidden = layer(hidden)
    batch, _, steps, _ = hidden.size()
    return embed.out(hidden.transpose(1, 2).reshape(batch, steps, -1)), lengths


def encode_frames(encoder: Phi4MultimodalAudioModel, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The encoder's hidden states for a padded batch whose rows are at most
    ENCODER_CHUNK_FRAMES long once subsampled (the native forward without its unfolding)."""
    hidden = encoder.encoder_embedding(features)
    hidden, lengths = subsample(encoder.embed, hidden, lengths)
    batch, steps, _ = hidden.shape
    if steps > ENCODER_CHUNK_FRAMES:
        raise ValueError(f"{steps} subsampled frames exceed the encoder's chunk of {ENCODER_CHUNK_FRAMES}")
    config = encoder.config
    streaming = encoder._streaming_mask(steps, batch, config.chunk_size, config.left_chunk).to(hidden.device)
    mask = streaming.unsqueeze(1) + encoder.relative_attention_bias_layer(hidden)
    padded_keys = torch.arange(steps, device=hidden.device)[None, :] >= lengths[:, None]
    if bool(padded_keys.any()):
        mask = mask.masked_fill(padded_keys[:, None, None, :], torch.finfo(mask.dtype).min)
    for layer in encoder.encoders:
        hidden = layer(hidden, mask)
    return hidden


def _project(audio: Phi4MultimodalAudioEmbedding, hidden: torch.Tensor) -> torch.Tensor:
    """The speech projection into the language model's embedding space, as the native embedding does."""
    return audio.down_proj_for_speech(nn.functional.gelu(audio.up_proj_for_speech(hidden)))


def sub_batches(frame_lengths: Sequence[int], row_frames: int) -> list[list[int]]:
    """The rows, shortest first, cut into consecutive groups whose padded size (rows × the
    group's longest row) is at most `row_frames`; a row longer than that is a group alone."""
    groups: list[list[int]] = []
    for row in sorted(range(len(frame_lengths)), key=lambda r: frame_lengths[r]):
        if groups and (len(groups[-1]) + 1) * frame_lengths[row] <= row_frames:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


@torch.inference_mode()
def encode_audio(
    audio: Phi4MultimodalAudioEmbedding,
    features: torch.Tensor,
    frame_lengths: Sequence[int],
    embed_sizes: Sequence[int],
    row_frames: int = ENCODER_ROW_FRAMES,
) -> list[torch.Tensor]:
    """Each recording's audio embeddings [embed_size, lm hidden] from a padded batch of
    features [batch, frames, mel] (as the feature extractor returns them): the recordings that
    fit the encoder's chunk in calls of at most `row_frames` padded frames, the longer ones in
    one call each."""
    parameter = audio.up_proj_for_speech.bias
    reduction = audio.encoder.config.time_reduction
    short = [row for row, frames in enumerate(frame_lengths) if -(-frames // reduction) <= ENCODER_CHUNK_FRAMES]
    long = sorted(set(range(len(frame_lengths))) - set(short))
    out: dict[int, torch.Tensor] = {}
    for group in sub_batches([frame_lengths[row] for row in short], row_frames):
        rows = [short[index] for index in group]
        width = max(frame_lengths[row] for row in rows)
        lengths = torch.tensor([frame_lengths[row] for row in rows], device=parameter.device)
        batch = features[rows, :width].to(parameter.device, parameter.dtype)
        projected = _project(audio, encode_frames(audio.encoder, batch, lengths))
        out.update((row, projected[index, : embed_sizes[row]]) for index, row in enumerate(rows))
    for row in long:
        alone = features[row : row + 1, : frame_lengths[row]].to(parameter.device, parameter.dtype)
        out[row] = _project(audio, audio.encoder(alone, None))[0, : embed_sizes[row]]
    return [out[row] for row in range(len(frame_lengths))]
