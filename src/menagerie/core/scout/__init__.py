"""Scout projects (PodPlay's Scout agent): a project is a workspace, a plan and one run that
carries the plan out in the workspace; a built project deploys to this machine or to Vercel."""
