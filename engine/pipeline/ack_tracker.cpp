#include "engine/pipeline/ack_tracker.h"

namespace fraud {

class AckTracker::Batch {
 public:
  std::vector<RecordSlot> slots;
  std::vector<Position> next;
  std::atomic<std::int64_t> pending{0};
  std::atomic<bool> failed{false};
};

void RecordSlot::done(bool ok) { tracker->complete(*this, ok); }

AckTracker::~AckTracker() {
  for (Batch* b : open_) delete b;
}

AckTracker::Batch* AckTracker::open(std::vector<Position> next, std::size_t records) {
  auto* b = new Batch();
  b->next = std::move(next);
  b->slots.resize(records);
  for (RecordSlot& s : b->slots) {
    s.tracker = this;
    s.batch = b;
  }
  b->pending.store(static_cast<std::int64_t>(records) + 1);  // +1: close()
  std::lock_guard lock(mu_);
  open_.push_back(b);
  return b;
}

RecordSlot& AckTracker::slot(Batch* b, std::size_t i) { return b->slots[i]; }

void AckTracker::close(Batch* b) { finish(b); }

void AckTracker::abandon(std::vector<Position> next) {
  Batch* b = open(std::move(next), 0);
  b->failed.store(true);  // not an error of its own: it is read again after a restart
  finish(b);
}

void AckTracker::complete(RecordSlot& slot, bool ok) {
  auto* b = static_cast<Batch*>(slot.batch);
  if (!ok) {
    b->failed.store(true);
    if (cb_.failed) cb_.failed("a record was not delivered");
  }
  finish(b);
}

void AckTracker::finish(Batch* b) {
  if (b->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Complete: retire every complete batch at the front, in order, under the
  // lock, so positions are committed in order and a failure freezes the
  // commits before any later batch can commit.
  std::size_t retired = 0;
  {
    std::lock_guard lock(mu_);
    while (!open_.empty() && open_.front()->pending.load(std::memory_order_acquire) == 0) {
      Batch* front = open_.front();
      open_.pop_front();
      if (front->failed.load()) frozen_.store(true);
      if (!frozen_.load() && cb_.commit && !front->next.empty()) cb_.commit(front->next);
      delete front;
      ++retired;
    }
  }
  for (std::size_t i = 0; i < retired; ++i) {
    if (cb_.retired) cb_.retired();
  }
}

std::size_t AckTracker::open_batches() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

}  // namespace fraud
