"""Writing and releasing the course: skeletons from the single source, notebooks, the student
template, the published solutions, the Gradescope bundle, Classroom 50's files, workflows."""
