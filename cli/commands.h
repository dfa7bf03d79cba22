// Entry points of the fastnn subcommands; each takes argv with argv[0] set
// to the command name and returns the process exit status.
#ifndef FNN_COMMANDS_H
#define FNN_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
