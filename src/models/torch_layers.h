// Torch building blocks shared by the encoders of the models subsystem (private: only
// torch translation units include this).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "aisle/models/featurizer.h"
#include "aisle/models/text_encoder.h"

namespace aisle::models {

// One tower: bag or token vectors in, a unit vector out.
struct TowerImpl : torch::nn::Module {
  TowerImpl(const EncoderConfig& config, int max_tokens) : architecture(config.architecture) {
    if (architecture == Architecture::kPooled) {
      hidden = register_module("hidden", torch::nn::Linear(config.embedding_dim, config.hidden));
      out = register_module("out", torch::nn::Linear(config.hidden, config.dim));
      shortcut = register_module("shortcut", torch::nn::Linear(config.embedding_dim, config.dim));
    } else {
      position = register_module("position", torch::nn::Embedding(max_tokens, config.embedding_dim));
      for (int i = 0; i < config.layers; ++i) {
        auto layer = torch::nn::TransformerEncoderLayer(
            torch::nn::TransformerEncoderLayerOptions(config.embedding_dim, config.heads)
                .dim_feedforward(config.hidden)
                .dropout(0.1));
        layers.push_back(register_module("layer" + std::to_string(i), layer));
      }
      out = register_module("out", torch::nn::Linear(config.embedding_dim, config.dim));
    }
  }

  // Pooled: x is [B, E] (weighted means of feature embeddings).
  torch::Tensor pooled(const torch::Tensor& x) {
    return torch::nn::functional::normalize(
        out(torch::gelu(hidden(x))) + shortcut(x), torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
  }

  // Transformer: tokens is [S, B, E], padding [B, S] (true = padding), lengths [B, 1] (>= 1).
  torch::Tensor sequence(torch::Tensor tokens, const torch::Tensor& padding, const torch::Tensor& lengths) {
    const int64_t s = tokens.size(0);
    tokens = tokens + position(torch::arange(s, torch::kLong)).unsqueeze(1);
    for (auto& layer : layers) tokens = layer->forward(tokens, /*src_mask=*/torch::Tensor(), padding);
    torch::Tensor keep = (~padding).transpose(0, 1).unsqueeze(2).to(torch::kFloat);  // [S, B, 1]
    torch::Tensor mean = (tokens * keep).sum(0) / lengths;
    return torch::nn::functional::normalize(out(mean), torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
  }

  Architecture architecture;
  torch::nn::Linear hidden{nullptr}, out{nullptr}, shortcut{nullptr};
  torch::nn::Embedding position{nullptr};
  std::vector<torch::nn::TransformerEncoderLayer> layers;
};
TORCH_MODULE(Tower);

// Featurized texts of one batch, as tensors.
struct Batch {
  torch::Tensor ids, weights, offsets;  // bags: per text (pooled) or per token (transformer)
  std::vector<std::int64_t> tokens_per_text;
};

inline Batch to_batch(const std::vector<const Features*>& texts, bool per_token) {
  std::vector<std::int64_t> ids, offsets;
  std::vector<float> weights;
  Batch batch;
  for (const Features* f : texts) {
    if (per_token) {
      for (int t = 0; t < f->tokens(); ++t) offsets.push_back(static_cast<std::int64_t>(ids.size()) + f->token_offsets[t]);
      batch.tokens_per_text.push_back(f->tokens());
    } else {
      offsets.push_back(static_cast<std::int64_t>(ids.size()));
    }
    ids.insert(ids.end(), f->ids.begin(), f->ids.end());
    weights.insert(weights.end(), f->weights.begin(), f->weights.end());
  }
  batch.ids = torch::tensor(ids, torch::kLong);
  batch.weights = torch::tensor(weights, torch::kFloat);
  batch.offsets = torch::tensor(offsets, torch::kLong);
  return batch;
}

// Weighted means of the bags: [n, E]. Bags sum the embeddings of their ids times their
// weights; dividing by the weight total makes the mean independent of text length.
inline torch::Tensor bag_means(torch::nn::EmbeddingBag& embedding, const Batch& batch, int embedding_dim) {
  if (batch.offsets.numel() == 0) return torch::zeros({0, embedding_dim});
  torch::Tensor sums = embedding(batch.ids, batch.offsets, batch.weights);
  torch::Tensor ends = torch::cat({batch.offsets.slice(0, 1), torch::tensor({batch.ids.size(0)}, torch::kLong)});
  torch::Tensor cumulative = torch::cat({torch::zeros({1}), batch.weights.cumsum(0)});
  torch::Tensor totals = cumulative.index_select(0, ends) - cumulative.index_select(0, batch.offsets);
  return sums / totals.clamp_min(1e-6).unsqueeze(1);
}

// Unit vectors [n, dim] of featurized texts through one tower.
inline torch::Tensor encode_texts(Tower& tower, torch::nn::EmbeddingBag& embedding,
                                  const std::vector<const Features*>& texts, const EncoderConfig& config) {
  const bool per_token = config.architecture == Architecture::kTransformer;
  Batch batch = to_batch(texts, per_token);
  torch::Tensor bags = bag_means(embedding, batch, config.embedding_dim);
  if (!per_token) return tower->pooled(bags);
  // Pack token vectors into [S, B, E]; a text without tokens gets one zero token.
  const std::int64_t b = static_cast<std::int64_t>(texts.size());
  std::int64_t s = 1;
  for (std::int64_t n : batch.tokens_per_text) s = std::max(s, n);
  const std::int64_t zero_row = bags.size(0);
  torch::Tensor table = torch::cat({bags, torch::zeros({1, config.embedding_dim})});
  std::vector<std::int64_t> gather(static_cast<std::size_t>(s * b), zero_row);
  std::vector<std::uint8_t> pad(static_cast<std::size_t>(b * s), 1);
  std::vector<float> lengths(static_cast<std::size_t>(b));
  std::int64_t row = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    std::int64_t n = batch.tokens_per_text[static_cast<std::size_t>(i)];
    for (std::int64_t t = 0; t < n; ++t) gather[static_cast<std::size_t>(t * b + i)] = row++;
    for (std::int64_t t = 0; t < std::max<std::int64_t>(n, 1); ++t) pad[static_cast<std::size_t>(i * s + t)] = 0;
    lengths[static_cast<std::size_t>(i)] = static_cast<float>(std::max<std::int64_t>(n, 1));
  }
  torch::Tensor tokens = table.index_select(0, torch::tensor(gather, torch::kLong)).view({s, b, config.embedding_dim});
  torch::Tensor padding = torch::tensor(std::vector<int64_t>(pad.begin(), pad.end()), torch::kLong).view({b, s}).to(torch::kBool);
  torch::Tensor length_tensor = torch::tensor(lengths, torch::kFloat).view({b, 1});
  return tower->sequence(tokens, padding, length_tensor);
}

}  // namespace aisle::models
