#include "engine/synthetic_stream.h"

namespace fraud {

namespace {

const char* kRegions[] = {"R-001", "R-002", "R-003", "R-010", "R-020", "R-033", "R-050", "R-066"};
const char* kRiskyRegions[] = {"R-101", "R-207", "R-318", "R-442"};

std::string q(const std::string& s) { return "\"" + s + "\""; }

std::string applicant(std::int64_t phone_age_days, std::int64_t device_age_days, std::int64_t monthly_income) {
  return ",\"applicant\":{\"phone_age_days\":" + std::to_string(phone_age_days) +
         ",\"device_age_days\":" + std::to_string(device_age_days) +
         ",\"monthly_income\":" + std::to_string(monthly_income) + "}";
}

}  // namespace

SyntheticStream::SyntheticStream(SyntheticOptions options)
    : opt_(options), rng_(options.seed), now_ms_(options.start_ms) {}

std::string SyntheticStream::emit(std::string& out, const char* type, const std::string& customer, bool fraud,
                                  const std::string& body) {
  now_ms_ += static_cast<std::int64_t>(pick(static_cast<std::uint32_t>(2 * opt_.step_ms + 1)));
  ++n_;
  out += "{\"event_id\":\"ev-" + std::to_string(opt_.seed) + "-" + std::to_string(n_) + "\",\"event_type\":\"" + type +
         "\",\"ts\":" + std::to_string(now_ms_) + ",\"customer_id\":" + q(customer) + body +
         ",\"label\":" + (fraud ? "1" : "0") + "}";
  return customer;
}

std::string SyntheticStream::normal(std::string& out) {
  std::uint32_t c = pick(opt_.customers);
  std::string cust = "c-" + std::to_string(c);
  std::string id = "ID-" + std::to_string(1000000 + c);
  std::string phone = "1" + std::to_string(3800000000ULL + c);
  std::string device = "dev-" + std::to_string(c * 7919ULL % 1000003);
  std::string ip = "10." + std::to_string(c % 250) + "." + std::to_string(c / 250 % 250) + "." + std::to_string(c % 97);
  if (opt_.hot_key_share > 0 && chance(opt_.hot_key_share)) {
    device = "dev-hot";
    id = "ID-hot";
  }
  std::uint32_t kind = pick(100);
  std::int64_t amount = 100000 + static_cast<std::int64_t>(pick(400)) * 1000;
  const char* region = kRegions[pick(8)];
  if (kind < 30) {
    // Applicant signals every application carries; each one alone is
    // common among honest borrowers too (see fraud pattern 8).
    std::int64_t phone_age = 15 + pick(3000);
    std::int64_t device_age = chance(0.12) ? pick(30) : pick(1500);
    std::int64_t income = 8000 + pick(52) * 1000;
    std::uint32_t ch = pick(100);
    const char* channel = ch < 80 ? "app" : ch < 95 ? "h5" : "open_api";
    return emit(out, "loan_application", cust, false,
                ",\"id_number\":" + q(id) + ",\"phone\":" + q(phone) + ",\"device_id\":" + q(device) +
                    ",\"ip\":" + q(ip) + ",\"amount\":" + std::to_string(amount) + ",\"region\":" + q(region) +
                    ",\"product\":\"sme_loan\",\"channel\":" + q(channel) + applicant(phone_age, device_age, income));
  }
  if (kind < 36) {
    return emit(out, "invoice_financing", cust, false,
                ",\"id_number\":" + q(id) + ",\"device_id\":" + q(device) + ",\"ip\":" + q(ip) + ",\"amount\":" +
                    std::to_string(amount / 2) + ",\"region\":" + q(region) + ",\"invoice\":{\"number\":\"INV-" +
                    std::to_string(rng_() % 100000000) + "\",\"seller_tax_id\":\"9131" + std::to_string(c) + "\"}");
  }
  if (kind < 50) {
    return emit(out, "disbursement", cust, false,
                ",\"loan_id\":\"L-" + std::to_string(rng_() % 100000000) + "\",\"amount\":" + std::to_string(amount));
  }
  if (kind < 80) {
    return emit(out, "repayment", cust, false,
                ",\"amount\":" + std::to_string(2000 + pick(20000)) + ",\"device_id\":" + q(device));
  }
  return emit(out, "withdrawal", cust, false,
              ",\"amount\":" + std::to_string(500 + pick(8000)) + ",\"to_account\":\"acct-" + std::to_string(c) + "\"");
}

std::string SyntheticStream::fraud(std::string& out) {
  if (pattern_left_ <= 0) {
    pattern_ = static_cast<int>(pick(9));
    pattern_id_ = rng_() % 1000000;
    pattern_left_ = pattern_ == 7 ? 1 : 3 + static_cast<int>(pick(10));
    pattern_amount_ = 150000 + static_cast<std::int64_t>(pick(300)) * 1000;
  }
  --pattern_left_;
  std::string pid = std::to_string(pattern_id_);
  std::uint32_t member = pick(1000);
  std::string cust = "fc-" + pid + "-" + std::to_string(member);
  std::string id = "FID-" + pid + "-" + std::to_string(member);
  std::string phone = "17" + std::to_string(100000000 + pattern_id_ * 7 + member % 5);
  // Other patterns' applicants look like anyone's: their signal is velocity.
  std::string usual_applicant =
      applicant(15 + pick(3000), chance(0.12) ? pick(30) : pick(1500), 8000 + pick(52) * 1000);
  std::string app = ",\"amount\":" + std::to_string(pattern_amount_) + ",\"product\":\"sme_loan\",\"channel\":\"app\"" +
                    usual_applicant;
  switch (pattern_) {
    case 0:  // device farm: one emulator, many identities
      return emit(out, "loan_application", cust, true,
                  ",\"id_number\":" + q(id) + ",\"phone\":" + q(phone) + ",\"device_id\":\"farm-" + pid +
                      "\",\"ip\":\"172.16." + std::to_string(pattern_id_ % 250) + ".9\",\"region\":\"R-003\"" + app);
    case 1:  // loan stacking: one ID number, rotating phones and devices
      return emit(out, "loan_application", "fc-" + pid, true,
                  ",\"id_number\":\"FID-" + pid + "\",\"phone\":" + q(phone) + ",\"device_id\":\"fdev-" + pid + "-" +
                      std::to_string(member % 3) + "\",\"ip\":\"100.64." + std::to_string(member % 250) +
                      ".1\",\"region\":\"R-010\"" + app);
    case 2: {  // cash-out: disbursement then most of it withdrawn
      std::string c = "fc-" + pid;
      if (pattern_left_ % 3 == 2) {
        return emit(out, "disbursement", c, true,
                    ",\"loan_id\":\"FL-" + pid + "\",\"amount\":" + std::to_string(pattern_amount_));
      }
      return emit(out, "withdrawal", c, true,
                  ",\"amount\":" + std::to_string(pattern_amount_ * 45 / 100) + ",\"to_account\":\"mule-" + pid + "\"");
    }
    case 3:  // duplicate invoice across shell companies
      return emit(out, "invoice_financing", cust, true,
                  ",\"id_number\":" + q(id) + ",\"device_id\":\"fdev-" + pid + "-" + std::to_string(member) +
                      "\",\"amount\":" + std::to_string(pattern_amount_ / 2) +
                      ",\"region\":\"R-020\",\"invoice\":{\"number\":\"INV-F" + pid + "\",\"seller_tax_id\":\"9144F" +
                      pid + "\"}");
    case 4:  // burst from one IP
      return emit(out, "loan_application", cust, true,
                  ",\"id_number\":" + q(id) + ",\"phone\":" + q(phone) + ",\"device_id\":\"fdev-" + pid + "-" +
                      std::to_string(member) + "\",\"ip\":\"203.0.113." + std::to_string(pattern_id_ % 250) +
                      "\",\"region\":\"R-033\"" + app);
    case 5:  // structuring just below the auto-approval limit
      return emit(out, "loan_application", "fc-" + pid, true,
                  ",\"id_number\":\"FID-" + pid + "\",\"phone\":" + q(phone) + ",\"device_id\":\"fdev-" + pid +
                      "\",\"amount\":" + std::to_string(185000 + pick(14) * 1000) + ",\"region\":\"R-050\"" +
                      usual_applicant);
    case 6:  // high-risk region
      return emit(out, "loan_application", cust, true,
                  ",\"id_number\":" + q(id) + ",\"phone\":" + q(phone) + ",\"device_id\":\"fdev-" + pid + "-" +
                      std::to_string(member) + "\",\"region\":" + q(kRiskyRegions[pick(4)]) + app);
    case 8: {  // synthetic identities: weak signals together, no velocity, no list
      std::uint32_t c = pick(opt_.customers);
      std::int64_t phone_age = 15 + static_cast<std::int64_t>(std::exponential_distribution<double>(1.0 / 120)(rng_));
      std::int64_t device_age = chance(0.6) ? pick(30) : pick(400);
      std::int64_t income = (chance(0.5) ? 8000 : 30000) + pick(30) * 1000;
      std::uint32_t ch = pick(100);
      const char* channel = ch < 45 ? "app" : ch < 80 ? "h5" : "open_api";
      std::int64_t amount = (chance(0.7) ? 350000 : 100000) + static_cast<std::int64_t>(pick(150)) * 1000;
      // A campaign of unrelated-looking identities: nothing shared to count.
      std::string ident = std::to_string(5000000000ULL + pattern_id_ * 1000 + member);
      return emit(out, "loan_application", "c-" + std::to_string(c), true,
                  ",\"id_number\":\"ID-" + ident + "\",\"phone\":\"1" +
                      std::to_string(3900000000ULL + pattern_id_ * 1000 + member) + "\",\"device_id\":\"dev-n" + ident +
                      "\",\"ip\":\"10." + std::to_string(c % 250) + "." + std::to_string(c / 250 % 250) + "." +
                      std::to_string(c % 97) + "\",\"amount\":" + std::to_string(amount) +
                      ",\"region\":" + q(kRegions[pick(8)]) + ",\"product\":\"sme_loan\",\"channel\":" + q(channel) +
                      applicant(phone_age, device_age, income));
    }
    default:  // a device already confirmed in a fraud case
      return emit(out, "loan_application", cust, true,
                  ",\"id_number\":" + q(id) + ",\"phone\":" + q(phone) + ",\"device_id\":\"dev-blk-000" +
                      std::to_string(1 + pick(3)) + "\",\"region\":\"R-002\"" + app);
  }
}

std::string SyntheticStream::next(std::string& out) {
  if (pattern_left_ > 0 || chance(opt_.fraud_share / 6.0)) return fraud(out);
  return normal(out);
}

}  // namespace fraud
