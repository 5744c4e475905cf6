"""A school's members (成员管理): adding, attaching, moving and removing people."""
