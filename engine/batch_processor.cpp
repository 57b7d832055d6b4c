#include "engine/batch_processor.h"

#include <algorithm>
#include <charconv>

namespace fraud {

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

void append_length_prefixed(std::string& out, const Value& v) {
  std::size_t mark = out.size();
  append_key_text(out, v);
  std::size_t len = out.size() - mark;
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, len);
  std::string prefix(buf, r.ptr);
  prefix.push_back(':');
  out.insert(mark, prefix);
}

}  // namespace

void BatchProcessor::plan(const RuleSet& rules, std::span<const Event* const> events,
                          std::span<const SourceRef> sources) {
  ops_.clear();
  pending_.clear();
  arena_.clear();
  event_ops_begin_.clear();
  plans_.clear();
  events_.assign(events.begin(), events.end());
  clamped_from_.assign(events.size(), INT64_MIN);
  clamped_events_ = 0;
  feature_count_ = rules.features.size();
  feature_values_.assign(events.size() * feature_count_, Value::null());
  std::span<const Value> no_features;
  for (std::size_t e = 0; e < events.size(); ++e) {
    const Event& ev = *events[e];
    event_ops_begin_.push_back(static_cast<std::uint32_t>(ops_.size()));
    // An event from the future cannot move its keys' windows ahead: its
    // features use record time + max_future (RULES.md "Late events").
    std::int64_t ts_ms = ev.ts_ms;
    if (e < sources.size() && sources[e].record_ts_ms >= 0 &&
        ev.ts_ms - sources[e].record_ts_ms > rules.max_future_ms) {
      ts_ms = sources[e].record_ts_ms + rules.max_future_ms;
      clamped_from_[e] = ev.ts_ms;
      ++clamped_events_;
    }
    const TypePlan& plan =
        options_.read_all_features ? rules.full_plan_for(ev.event_type) : rules.plan_for(ev.event_type);
    plans_.push_back(&plan);
    where_scratch_.reset();
    EvalContext ctx{rules, ev, no_features, where_scratch_};
    for (std::size_t k = 0; k < plan.features.size(); ++k) {
      const std::uint32_t fid = plan.features[k];
      const FeatureDef& f = rules.features[fid];
      bool null_key = false;
      for (auto slot : f.by_slots) null_key |= ev.fields[slot].is_null();
      if (null_key) continue;  // value null, no update
      bool update = !f.where_node || holds(ctx, *f.where_node);
      bool read = value_needed(plan, k, [&](std::uint32_t node) { return holds(ctx, node); });
      if (!update && !read) continue;
      PendingText p{ops_.size(), arena_.size(), 0, 0, 0};
      if (f.by_slots.size() == 1) {
        append_key_text(arena_, ev.fields[f.by_slots[0]]);
      } else {
        for (auto slot : f.by_slots) append_length_prefixed(arena_, ev.fields[slot]);
      }
      p.key_length = arena_.size() - p.key_offset;
      FeatureOp op;
      op.feature = fid;
      op.bucket = floor_div(ts_ms, f.resolution_ms);
      op.update = update;
      op.read = read;
      if (f.of_slot) op.of = ev.fields[*f.of_slot];
      if (update && f.agg == Aggregation::kDistinct && !op.of.is_null()) {
        p.of_offset = arena_.size();
        append_json_text(arena_, op.of);
        p.of_length = arena_.size() - p.of_offset;
      }
      if (options_.idempotent && e < sources.size()) {
        op.partition = sources[e].partition;
        op.offset = sources[e].offset;
      }
      ops_.push_back(op);
      pending_.push_back(p);
    }
  }
  event_ops_begin_.push_back(static_cast<std::uint32_t>(ops_.size()));
  for (const auto& p : pending_) {
    ops_[p.op].key = std::string_view(arena_.data() + p.key_offset, p.key_length);
    ops_[p.op].of_text = std::string_view(arena_.data() + p.of_offset, p.of_length);
  }
  results_.assign(ops_.size(), Value::null());
  late_.assign(ops_.size(), 0);
  scored_ = false;
  features_filled_ = false;
}

void BatchProcessor::fill_features(std::size_t i) {
  Value* values = feature_values_.data() + i * feature_count_;
  for (std::uint32_t k = event_ops_begin_[i]; k < event_ops_begin_[i + 1]; ++k) {
    if (ops_[k].read) values[ops_[k].feature] = results_[k];
  }
}

void BatchProcessor::score_models(const RuleSet& rules, EvalScratch& scratch, bool degraded) {
  scored_ = true;
  if (rules.models.empty() || degraded) {
    scorer_.none(rules, events_.size());
    return;
  }
  for (std::size_t i = 0; i < events_.size(); ++i) fill_features(i);
  features_filled_ = true;
  scorer_.score(
      rules, events_, plans_, [&](std::size_t i) { return features_of(i); }, scratch);
}

void BatchProcessor::mark_late(std::span<const std::uint32_t> late_ops) {
  for (std::uint32_t i : late_ops) {
    if (i < late_.size()) late_[i] = 1;
  }
}

void BatchProcessor::evaluate(const RuleSet& rules, std::size_t i, Verdict& out, EvalScratch& scratch, bool degraded) {
  const Event& ev = *events_[i];
  if (!degraded && !features_filled_) fill_features(i);
  scratch.reset();
  EvalContext ctx{rules, ev, features_of(i), scratch, model_scores_of(i)};
  out.score = 0;
  out.hit_count = 0;
  out.shadow_count = 0;
  out.model_count = 0;
  out.degraded = degraded;
  out.ts_clamped_from = clamped_from_[i];
  out.late_count = 0;
  if (!degraded) {
    for (std::uint32_t k = event_ops_begin_[i]; k < event_ops_begin_[i + 1]; ++k) {
      if (!late_[k]) continue;
      if (out.late_features.size() <= out.late_count) out.late_features.emplace_back();
      out.late_features[out.late_count++] = ops_[k].feature;
    }
  }
  // Matches first: the models the matched rules read are explained before
  // their reasons are rendered ({explain(model)}).
  for (std::uint32_t r : plans_[i]->rules) {
    const RuleDef& rule = rules.rules[r];
    if (!holds(ctx, rule.when_node)) continue;
    std::vector<RuleHit>& list = rule.shadow ? out.shadow_hits : out.hits;
    std::size_t& count = rule.shadow ? out.shadow_count : out.hit_count;
    if (list.size() <= count) list.emplace_back();
    list[count++].rule = r;
    if (scored_ && !rule.models_read.empty()) {
      out.model_count = scorer_.explain(rules, i, rule.models_read, out.models, out.model_count, scratch.floats);
    }
  }
  scratch.explained.clear();
  for (std::size_t k = 0; k < out.model_count; ++k) {
    if (!out.models[k].text.empty()) scratch.explained.push_back({out.models[k].model, out.models[k].text});
  }
  ctx.explained = scratch.explained;
  Decision floor = Decision::kAllow;
  auto settle = [&](RuleHit& hit) {
    const RuleDef& rule = rules.rules[hit.rule];
    hit.reason.clear();
    if (rule.has_reason) render_reason(ctx, rule, hit.reason);
    if (!rule.shadow) {
      out.score += rule.score;
      if (rule.decision && *rule.decision > floor) floor = *rule.decision;
    }
  };
  for (std::size_t h = 0; h < out.hit_count; ++h) settle(out.hits[h]);
  for (std::size_t h = 0; h < out.shadow_count; ++h) settle(out.shadow_hits[h]);
  Decision d = out.score >= rules.thresholds.decline  ? Decision::kDecline
               : out.score >= rules.thresholds.review ? Decision::kReview
                                                      : Decision::kAllow;
  out.decision = std::max(d, floor);
}

void encode_verdict(const RuleSet& rules, const Event& event, const Verdict& verdict, std::span<const Value> features,
                    const SourceRef& source, std::string& out) {
  out.append("{\"event_id\":");
  append_json_string(out, event.event_id);
  out.append(",\"event_type\":");
  append_json_string(out, event.event_type);
  out.append(",\"decision\":\"");
  out.append(decision_name(verdict.decision));
  out.append("\",\"score\":");
  append_number(out, verdict.score);
  // Features read by any matched rule, in declaration order.
  std::uint64_t small_mask = 0;
  std::vector<std::uint32_t> shown;
  auto note = [&](const RuleHit& h) {
    for (auto f : rules.rules[h.rule].features_read) {
      if (f < 64) {
        small_mask |= (std::uint64_t{1} << f);
      } else if (std::find(shown.begin(), shown.end(), f) == shown.end()) {
        shown.push_back(f);
      }
    }
  };
  auto write_hits = [&](const std::vector<RuleHit>& hits, std::size_t count) {
    out.push_back('[');
    for (std::size_t i = 0; i < count; ++i) {
      const RuleHit& h = hits[i];
      const RuleDef& rule = rules.rules[h.rule];
      note(h);
      if (i) out.push_back(',');
      out.append("{\"name\":");
      append_json_string(out, rule.name);
      out.append(",\"score\":");
      append_number(out, rule.score);
      if (rule.decision) {
        out.append(",\"decision\":\"");
        out.append(decision_name(*rule.decision));
        out.push_back('"');
      }
      if (rule.has_reason) {
        out.append(",\"reason\":");
        append_json_string(out, h.reason);
      }
      out.push_back('}');
    }
    out.push_back(']');
  };
  out.append(",\"rules\":");
  write_hits(verdict.hits, verdict.hit_count);
  out.append(",\"shadow_rules\":");
  write_hits(verdict.shadow_hits, verdict.shadow_count);
  out.append(",\"features\":{");
  bool first = true;
  auto write_feature = [&](std::uint32_t f) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, rules.features[f].name);
    out.push_back(':');
    const Value& v = f < features.size() ? features[f] : Value{};
    if (v.is_number()) {
      append_number(out, v.number);
    } else {
      append_json_text(out, v);
    }
  };
  for (std::uint32_t f = 0; f < 64 && small_mask >> f; ++f) {
    if (small_mask & (std::uint64_t{1} << f)) write_feature(f);
  }
  std::sort(shown.begin(), shown.end());
  for (auto f : shown) write_feature(f);
  out.push_back('}');
  if (!rules.models.empty()) append_model_outputs(rules, {verdict.models.data(), verdict.model_count}, out);
  out.append(",\"rules_version\":\"");
  out.append(rules.version);
  out.append("\",\"source\":{\"topic\":");
  append_json_string(out, source.topic);
  out.append(",\"partition\":");
  out.append(std::to_string(source.partition));
  out.append(",\"offset\":");
  out.append(std::to_string(source.offset));
  out.push_back('}');
  if (verdict.degraded) out.append(",\"degraded\":true");
  if (verdict.ts_clamped_from != INT64_MIN) {
    out.append(",\"ts_clamped_from\":");
    out.append(std::to_string(verdict.ts_clamped_from));
  }
  if (verdict.late_count > 0) {
    out.append(",\"late_features\":[");
    for (std::size_t k = 0; k < verdict.late_count; ++k) {
      if (k > 0) out.push_back(',');
      append_json_string(out, rules.features[verdict.late_features[k]].name);
    }
    out.push_back(']');
  }
  out.push_back('}');
}

}  // namespace fraud
