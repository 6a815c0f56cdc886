# txfs, the mounted test filesystem (fusefs/).
