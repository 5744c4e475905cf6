"""转学申请: a student of one school moves to another, approved by the school they leave."""
