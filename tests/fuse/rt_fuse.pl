#!/usr/bin/perl
# rt_fuse.pl SOURCE MOUNTPOINT: a passthrough of SOURCE on Fuse.pm, a Perl
# XS module linked to libfuse2 and loaded at run time (tests/fuse/mounted.sh).
use strict;
use warnings;
use Fuse;
use POSIX qw(EIO);
use Fcntl qw(O_CREAT O_TRUNC O_WRONLY S_IMODE);

my ($root, $mnt) = @ARGV;
sub p { return $root . $_[0] }
sub err { return -($! + 0 || EIO) }
my %fh;
my $next = 1;

Fuse::main(
	mountpoint => $mnt,
	getattr  => sub { my @s = lstat(p($_[0])); return @s ? @s : err() },
	getdir   => sub { opendir(my $d, p($_[0])) or return err(); my @n = readdir($d); closedir($d); return (@n, 0) },
	readlink => sub { my $t = readlink(p($_[0])); return defined $t ? $t : err() },
	mkdir    => sub { mkdir(p($_[0]), $_[1]) ? 0 : err() },
	rmdir    => sub { rmdir(p($_[0])) ? 0 : err() },
	unlink   => sub { unlink(p($_[0])) ? 0 : err() },
	symlink  => sub { symlink($_[0], p($_[1])) ? 0 : err() },
	rename   => sub { rename(p($_[0]), p($_[1])) ? 0 : err() },
	link     => sub { link(p($_[0]), p($_[1])) ? 0 : err() },
	chmod    => sub { chmod(S_IMODE($_[1]), p($_[0])) ? 0 : err() },
	chown    => sub { chown($_[1], $_[2], p($_[0])) ? 0 : err() },
	truncate => sub { truncate(p($_[0]), $_[1]) ? 0 : err() },
	utime    => sub { utime($_[1], $_[2], p($_[0])) ? 0 : err() },
	open     => sub {
		sysopen(my $f, p($_[0]), $_[1]) or return err();
		my $n = $next++; $fh{$n} = $f; return (0, $n);
	},
	create   => sub {
		sysopen(my $f, p($_[0]), O_CREAT | O_TRUNC | O_WRONLY, $_[1]) or return err();
		my $n = $next++; $fh{$n} = $f; return (0, $n);
	},
	read     => sub {
		my ($path, $size, $off, $n) = @_;
		my $f = $fh{$n} or return -EIO;
		sysseek($f, $off, 0) or return err();
		my $buf = ''; defined(sysread($f, $buf, $size)) or return err();
		return $buf;
	},
	write    => sub {
		my ($path, $buf, $off, $n) = @_;
		my $f = $fh{$n} or return -EIO;
		sysseek($f, $off, 0) or return err();
		my $w = syswrite($f, $buf); return defined $w ? $w : err();
	},
	flush    => sub { return 0 },
	fsync    => sub { return 0 },
	release  => sub { my $f = delete $fh{$_[2]}; close($f) if $f; return 0 },
	statfs   => sub { return (255, 1000000, 500000, 1000000, 500000, 4096) },
);
