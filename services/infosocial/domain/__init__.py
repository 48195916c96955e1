"""Info-social's pure logic: what a frame holds, who sees what, review dates, referral states."""
