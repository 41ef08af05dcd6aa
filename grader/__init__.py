"""The course's grading engine: generate skeletons, grade submissions, report scores."""
